using System.Runtime.Versioning;

namespace AsyncSendFd.Native.Interop.Darwin;

/// <summary>macOS constants (x64 and arm64).</summary>
[SupportedOSPlatform("macos")]
public static partial class LibC
{
#pragma warning disable CS1591 // The native names are the documentation: see socket(2), unix(4), recvmsg(2).
    // <sys/socket.h>
    public const int AF_UNIX = 1;
    public const int SOCK_STREAM = 1;
    public const int SOCK_DGRAM = 2;
    public const int SOCK_SEQPACKET = 5;

    public const int SOL_SOCKET = 0xffff;
    public const int SO_SNDBUF = 0x1001;
    public const int SO_RCVBUF = 0x1002;
    public const int SO_TYPE = 0x1008;
    public const int SO_NOSIGPIPE = 0x1022;

    public const int SCM_RIGHTS = 1;
    public const int SCM_CREDS = 3;

    public const int MSG_PEEK = 0x2;
    public const int MSG_EOR = 0x8;
    public const int MSG_TRUNC = 0x10;
    public const int MSG_CTRUNC = 0x20;
    public const int MSG_DONTWAIT = 0x80;
    public const int MSG_NOSIGNAL = 0x80000;

    // <sys/un.h>, <sys/ucred.h>
    public const int SOL_LOCAL = 0;
    public const int LOCAL_PEERCRED = 1;
    public const int LOCAL_PEERPID = 2;
    public const uint XUCRED_VERSION = 0;

    // <fcntl.h>
    public const int F_GETFD = 1;
    public const int F_SETFD = 2;
    public const int F_GETFL = 3;
    public const int F_SETFL = 4;
    public const int F_DUPFD_CLOEXEC = 67;
    public const int FD_CLOEXEC = 1;
    public const int O_NONBLOCK = 0x4;

    // <poll.h>
    public const short POLLIN = 0x1;
    public const short POLLOUT = 0x4;
    public const short POLLERR = 0x8;
    public const short POLLHUP = 0x10;
    public const short POLLNVAL = 0x20;

    // <sys/errno.h>
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int EBADF = 9;
    public const int ENOMEM = 12;
    public const int EEXIST = 17;
    public const int EINVAL = 22;
    public const int ENFILE = 23;
    public const int EMFILE = 24;
    public const int EPIPE = 32;
    public const int EAGAIN = 35;
    public const int ENOTSOCK = 38;
    public const int EMSGSIZE = 40;
    public const int ENOPROTOOPT = 42;
    public const int ECONNRESET = 54;
    public const int ENOBUFS = 55;
    public const int ENOTCONN = 57;
    public const int ETOOMANYREFS = 59;
#pragma warning restore CS1591
}
