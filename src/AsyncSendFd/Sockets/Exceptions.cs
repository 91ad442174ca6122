using System.Net.Sockets;
using System.Runtime.InteropServices;

using AsyncSendFd.Syscalls;

namespace AsyncSendFd.Sockets;

/// <summary>The exceptions of sends and receives: an errno from a syscall or a wait, and a received message's refusals.</summary>
internal static class Exceptions
{
    /// <summary>
    /// A <see cref="SocketException"/> for <paramref name="errno"/> (<see cref="SocketError.TimedOut"/> for a blocking
    /// call's deadline), or <see cref="ObjectDisposedException"/> when the failure came from the socket being disposed
    /// under the call.
    /// </summary>
    public static Exception FromErrno(Errno errno, Socket socket)
    {
        if (SocketContext.IsDisposed(socket))
        {
            return HandleLease.SocketDisposed();
        }

        // new SocketException(int) would read errno as a SocketError; the parameterless one maps it.
        Marshal.SetLastPInvokeError(errno.Value);
        return new SocketException();
    }

    public static IOException TooManyDescriptors(int received, int slots) => new(
        $"The message carried {received} descriptors but only {slots} slots were given; all of them were closed.");

    public static IOException ControlDataTruncated() => new(
        "The kernel truncated the message's control data (MSG_CTRUNC); every descriptor that arrived was closed.");

    public static IOException DataTruncated(int bufferLength) => new(
        $"The message was longer than the {bufferLength}-byte buffer and was cut (MSG_TRUNC); its descriptors were closed.");

    public static IOException NotOneDescriptor(int count) => new(count == 0
        ? "The message carried no descriptor; one was expected."
        : $"The message carried {count} descriptors; exactly one was expected. All of them were closed.");

    public static IOException NoDataByte() => new(
        "The message carried its descriptor on no data byte; one to four were expected. It was closed.");

    public static IOException NotASocket() => new("The received descriptor is not a socket; it was closed.");
}
