using AsyncSendFd.Native.Interop.Unix;
using Darwin = AsyncSendFd.Native.Interop.Darwin;
using Linux = AsyncSendFd.Native.Interop.Linux;

namespace AsyncSendFd.Syscalls;

/// <summary>Questions and settings for a socket descriptor that its <see cref="System.Net.Sockets.Socket"/> cannot answer.</summary>
internal static unsafe class SocketCalls
{
    private static readonly int SocketLevel = Os.IsLinux ? Linux.LibC.SOL_SOCKET : Os.IsMacOS ? Darwin.LibC.SOL_SOCKET : 0;
    private static readonly int TypeOption = Os.IsLinux ? Linux.LibC.SO_TYPE : Os.IsMacOS ? Darwin.LibC.SO_TYPE : 0;

    /// <summary>Turns SIGPIPE off for one socket on macOS; Linux passes MSG_NOSIGNAL on every send instead.</summary>
    public static void DisableSigPipe(int socket)
    {
        if (Os.IsMacOS)
        {
            int on = 1;
            _ = LibC.setsockopt(socket, Darwin.LibC.SOL_SOCKET, Darwin.LibC.SO_NOSIGPIPE, &on, sizeof(int));
        }
    }

    /// <summary>
    /// Whether a control message holds a descriptor the kernel installed by itself: SCM_PIDFD, which Linux 6.5+
    /// adds to every message once SO_PASSPIDFD is set on the socket.
    /// </summary>
    public static bool IsKernelInstalledDescriptor(int level, int type) =>
        Os.IsLinux && level == Linux.LibC.SOL_SOCKET && type == Linux.LibC.SCM_PIDFD;

    /// <summary>Whether <paramref name="fd"/> is a socket: getsockopt(SO_TYPE) fails with ENOTSOCK otherwise.</summary>
    public static bool IsSocket(int fd)
    {
        int type = 0;
        uint length = sizeof(int);
        return LibC.getsockopt(fd, SocketLevel, TypeOption, &type, &length) == 0;
    }
}
