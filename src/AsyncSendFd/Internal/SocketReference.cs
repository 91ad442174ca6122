using System.Net.Sockets;

namespace AsyncSendFd.Internal;

/// <summary>
/// A reference on a socket's handle for the length of one operation, so its descriptor cannot be
/// closed and reused under a syscall; Dispose meanwhile shuts the socket down, which ends any wait.
/// </summary>
internal static class SocketReference
{
    /// <returns>The socket's descriptor.</returns>
    /// <exception cref="ObjectDisposedException">The socket is disposed.</exception>
    public static int Acquire(Socket socket)
    {
        bool added = false;
        socket.SafeHandle.DangerousAddRef(ref added);
        return (int)socket.SafeHandle.DangerousGetHandle();
    }

    public static void Release(Socket socket) => socket.SafeHandle.DangerousRelease();
}
