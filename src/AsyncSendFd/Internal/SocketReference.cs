using System.Net.Sockets;

namespace AsyncSendFd.Internal;

/// <summary>
/// A reference on a socket's handle around one syscall (never across a wait), so its descriptor cannot be closed
/// and reused under the call, while <see cref="Socket.Dispose()"/> never has to wait for a waiting call.
/// </summary>
internal static class SocketReference
{
    /// <returns>The socket's descriptor.</returns>
    /// <exception cref="ObjectDisposedException">The socket is disposed.</exception>
    public static int Acquire(Socket socket)
    {
        bool added = false;
        try
        {
            socket.SafeHandle.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            throw Errors.SocketDisposed();
        }

        return (int)socket.SafeHandle.DangerousGetHandle();
    }

    public static void Release(Socket socket) => socket.SafeHandle.DangerousRelease();
}
