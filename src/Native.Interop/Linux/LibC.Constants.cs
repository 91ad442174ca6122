using System.Runtime.Versioning;

namespace AsyncSendFd.Native.Interop.Linux;

/// <summary>Linux constants, for x86, x64, arm and arm64 (and every target on the generic ABI).</summary>
/// <remarks>
/// MIPS, PowerPC, SPARC and Alpha number some socket options and types differently; they are not covered.
/// </remarks>
[SupportedOSPlatform("linux")]
public static partial class LibC
{
    // <sys/socket.h>
#pragma warning disable CS1591 // The native names are the documentation: see socket(7), unix(7), recvmsg(2).
    public const int AF_UNIX = 1;
    public const int SOCK_STREAM = 1;
    public const int SOCK_DGRAM = 2;
    public const int SOCK_SEQPACKET = 5;
    public const int SOCK_NONBLOCK = 0x800;
    public const int SOCK_CLOEXEC = 0x80000;

    public const int SOL_SOCKET = 1;
    public const int SO_TYPE = 3;
    public const int SO_SNDBUF = 7;
    public const int SO_RCVBUF = 8;
    public const int SO_PASSCRED = 16;
    public const int SO_PEERCRED = 17;
    public const int SO_PASSPIDFD = 76;
    public const int SO_PEERPIDFD = 77;

    public const int SCM_RIGHTS = 1;
    public const int SCM_CREDENTIALS = 2;
    public const int SCM_PIDFD = 4;

    /// <summary>Most descriptors one <c>sendmsg</c> may carry (<c>SCM_MAX_FD</c>, include/net/scm.h).</summary>
    public const int SCM_MAX_FD = 253;

    public const int MSG_PEEK = 0x2;
    public const int MSG_CTRUNC = 0x8;
    public const int MSG_TRUNC = 0x20;
    public const int MSG_DONTWAIT = 0x40;
    public const int MSG_EOR = 0x80;
    public const int MSG_NOSIGNAL = 0x4000;
    public const int MSG_CMSG_CLOEXEC = 0x40000000;

    // <fcntl.h>
    public const int F_DUPFD_CLOEXEC = 1030;
    public const int F_GETFD = 1;
    public const int F_SETFD = 2;
    public const int F_GETFL = 3;
    public const int F_SETFL = 4;
    public const int FD_CLOEXEC = 1;
    public const int O_NONBLOCK = 0x800;

    // <poll.h>
    public const short POLLIN = 0x1;
    public const short POLLOUT = 0x4;
    public const short POLLERR = 0x8;
    public const short POLLHUP = 0x10;
    public const short POLLNVAL = 0x20;

    // <errno.h>
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int EBADF = 9;
    public const int EAGAIN = 11;
    public const int ENOMEM = 12;
    public const int EEXIST = 17;
    public const int EINVAL = 22;
    public const int ENFILE = 23;
    public const int EMFILE = 24;
    public const int EPIPE = 32;
    public const int ENOTSOCK = 88;
    public const int EMSGSIZE = 90;
    public const int ENOPROTOOPT = 92;
    public const int ECONNRESET = 104;
    public const int ENOBUFS = 105;
    public const int ENOTCONN = 107;
    public const int ETOOMANYREFS = 109;
#pragma warning restore CS1591
}
