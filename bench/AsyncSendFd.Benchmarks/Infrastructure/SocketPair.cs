using System.Net.Sockets;
using System.Runtime.InteropServices;
using AsyncSendFd.Native.Interop.Linux;

namespace AsyncSendFd.Benchmarks.Infrastructure;

/// <summary>Two connected stream sockets from socketpair(2), either as raw descriptors or adopted as <see cref="Socket"/>s.</summary>
internal static unsafe class SocketPair
{
    /// <summary>A blocking, close-on-exec stream pair for the raw floors; close both with <see cref="Close"/>.</summary>
    public static (int Left, int Right) CreateRaw()
    {
        int* fds = stackalloc int[2];
        if (Native.Interop.Unix.LibC.socketpair(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_CLOEXEC, 0, fds) != 0)
        {
            throw new SocketException(); // maps the errno socketpair just saved
        }

        return (fds[0], fds[1]);
    }

    /// <summary>A stream pair adopted as sockets, the way a caller of the library holds them.</summary>
    public static (Socket Left, Socket Right) CreateSockets() => UnixSocketPair.Create();

    public static void Close(int left, int right)
    {
        _ = Native.Interop.Unix.LibC.close(left);
        _ = Native.Interop.Unix.LibC.close(right);
    }
}
