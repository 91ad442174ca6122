using System.Net.Sockets;

namespace AsyncSendFd.Internal;

/// <summary>Questions about a <see cref="Socket"/> that its public surface answers only indirectly.</summary>
internal static class SocketState
{
    /// <summary>
    /// Whether <see cref="Socket.Dispose()"/> was called. <see cref="System.Runtime.InteropServices.SafeHandle.IsClosed"/>
    /// stays false while an operation holds a reference, so ask a member that checks the socket's own flag.
    /// Only for failure and end-of-stream paths: it costs a syscall.
    /// </summary>
    public static bool IsDisposed(Socket socket)
    {
        try
        {
            _ = socket.Available;
            return false;
        }
        catch (ObjectDisposedException)
        {
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
