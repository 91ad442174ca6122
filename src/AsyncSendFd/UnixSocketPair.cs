using System.Net.Sockets;
using AsyncSendFd.Syscalls;
using AsyncSendFd.Sockets;
using LibC = AsyncSendFd.Native.Interop.Unix.LibC;
using Darwin = AsyncSendFd.Native.Interop.Darwin;
using Linux = AsyncSendFd.Native.Interop.Linux;

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
    /// <include file="Docs/Exceptions.xml" path="exceptions/platform/*"/>
    /// <exception cref="SocketException">The kernel refused, e.g. out of descriptors.</exception>
    public static (Socket Left, Socket Right) Create(SocketType socketType = SocketType.Stream)
    {
        if (socketType is not (SocketType.Stream or SocketType.Dgram or SocketType.Seqpacket))
        {
            throw new ArgumentOutOfRangeException(nameof(socketType), socketType, "A Unix socket pair is Stream, Dgram or Seqpacket.");
        }

        Validate.Platform();
        (int left, int right) = CreatePair(socketType);
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

    /// <summary>socketpair(2) in the Unix family, both ends close-on-exec (atomically on Linux).</summary>
    private static unsafe (int Left, int Right) CreatePair(SocketType socketType)
    {
        int* fds = stackalloc int[2];
        int result;
        if (Os.IsLinux)
        {
            int type = socketType switch
            {
                SocketType.Stream => Linux.LibC.SOCK_STREAM,
                SocketType.Dgram => Linux.LibC.SOCK_DGRAM,
                _ => Linux.LibC.SOCK_SEQPACKET,
            };
            result = LibC.socketpair(Linux.LibC.AF_UNIX, type | Linux.LibC.SOCK_CLOEXEC, 0, fds);
        }
        else if (Os.IsMacOS)
        {
            int type = socketType switch
            {
                SocketType.Stream => Darwin.LibC.SOCK_STREAM,
                SocketType.Dgram => Darwin.LibC.SOCK_DGRAM,
                _ => Darwin.LibC.SOCK_SEQPACKET,
            };
            result = LibC.socketpair(Darwin.LibC.AF_UNIX, type, 0, fds);
        }
        else
        {
            throw Os.NotSupported();
        }

        if (result != 0)
        {
            throw new SocketException(); // reads the errno the import just saved
        }

        if (Os.IsMacOS)
        {
            // macOS has no SOCK_CLOEXEC: a fork in between could inherit them, which is why Linux passes the flag.
            DescriptorCalls.SetCloseOnExec(fds[0]);
            DescriptorCalls.SetCloseOnExec(fds[1]);
        }

        return (fds[0], fds[1]);
    }
}
