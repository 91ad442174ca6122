using System.Net.Sockets;
using System.Runtime.InteropServices;
using AsyncSendFd.Internal;

namespace AsyncSendFd;

/// <summary>
/// A pair of connected, anonymous Unix sockets (socketpair(2)), which .NET has no API for: the usual
/// channel between a process and a worker it starts, or between two parts of one process.
/// </summary>
public static class UnixSocketPair
{
    /// <summary>Creates two connected Unix sockets of the given type, both close-on-exec.</summary>
    /// <param name="socketType"><see cref="SocketType.Stream"/>, <see cref="SocketType.Dgram"/> or <see cref="SocketType.Seqpacket"/> (Linux only).</param>
    /// <returns>The two ends; the caller owns both.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="socketType"/> is not one of the three.</exception>
    /// <exception cref="PlatformNotSupportedException">The OS is neither Linux nor macOS.</exception>
    /// <exception cref="SocketException">The kernel refused, e.g. out of descriptors.</exception>
    public static (Socket Left, Socket Right) Create(SocketType socketType = SocketType.Stream)
    {
        if (socketType is not (SocketType.Stream or SocketType.Dgram or SocketType.Seqpacket))
        {
            throw new ArgumentOutOfRangeException(nameof(socketType), socketType, "A Unix socket pair is Stream, Dgram or Seqpacket.");
        }

        (int left, int right) = NativeSocket.CreatePair(socketType);
        var leftHandle = new SafeSocketHandle(left, ownsHandle: true);
        var rightHandle = new SafeSocketHandle(right, ownsHandle: true);
        try
        {
            return (new Socket(leftHandle), new Socket(rightHandle));
        }
        catch
        {
            leftHandle.Dispose();
            rightHandle.Dispose();
            throw;
        }
    }
}
