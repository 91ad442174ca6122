using System.Net.Sockets;
using System.Runtime.InteropServices;
using AsyncSendFd.Native.Interop.Linux;

namespace AsyncSendFd.Tests.Support;

/// <summary>Two connected Unix sockets from socketpair(2), adopted as <see cref="Socket"/>s.</summary>
internal sealed unsafe class SocketPair : IDisposable
{
    private SocketPair(Socket left, Socket right)
    {
        Left = left;
        Right = right;
    }

    public Socket Left { get; }

    public Socket Right { get; }

    public static SocketPair Create(SocketType type = SocketType.Stream)
    {
        int nativeType = type switch
        {
            SocketType.Stream => LibC.SOCK_STREAM,
            SocketType.Dgram => LibC.SOCK_DGRAM,
            SocketType.Seqpacket => LibC.SOCK_SEQPACKET,
            _ => throw new ArgumentOutOfRangeException(nameof(type)),
        };
        int* fds = stackalloc int[2];
        if (Native.Interop.Unix.LibC.socketpair(LibC.AF_UNIX, nativeType | LibC.SOCK_CLOEXEC, 0, fds) != 0)
        {
            throw new SocketException(Marshal.GetLastPInvokeError());
        }

        return new SocketPair(
            new Socket(new SafeSocketHandle(fds[0], ownsHandle: true)),
            new Socket(new SafeSocketHandle(fds[1], ownsHandle: true)));
    }

    public void Dispose()
    {
        Left.Dispose();
        Right.Dispose();
    }
}
