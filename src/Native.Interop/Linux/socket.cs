using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using AsyncSendFd.Native.Interop.Unix;

namespace AsyncSendFd.Native.Interop.Linux;

/// <summary><c>struct msghdr</c> from &lt;sys/socket.h&gt; on Linux.</summary>
/// <remarks>
/// glibc declares <c>msg_iovlen</c> and <c>msg_controllen</c> as <c>size_t</c>. musl declares them as
/// <c>int</c>/<c>socklen_t</c> plus padding that it zeroes itself, so on little-endian targets this
/// <c>nuint</c> shape is correct for both libraries, on 64-bit (56 bytes) and 32-bit (28 bytes) alike.
/// </remarks>
[SupportedOSPlatform("linux")]
public unsafe struct msghdr
{
    /// <summary>Optional address (datagram destination or source).</summary>
    public void* msg_name;

    /// <summary>Size of <see cref="msg_name"/> in bytes.</summary>
    public uint msg_namelen;

    /// <summary>Scatter/gather array.</summary>
    public iovec* msg_iov;

    /// <summary>Number of elements in <see cref="msg_iov"/>.</summary>
    public nuint msg_iovlen;

    /// <summary>Ancillary data buffer (a sequence of <see cref="cmsghdr"/>).</summary>
    public void* msg_control;

    /// <summary>Ancillary data buffer length; on return, the length the kernel filled in.</summary>
    public nuint msg_controllen;

    /// <summary>Flags on the received message (<c>MSG_CTRUNC</c>, <c>MSG_TRUNC</c>, ...).</summary>
    public int msg_flags;
}

/// <summary><c>struct cmsghdr</c> from &lt;sys/socket.h&gt; on Linux: 16 bytes on 64-bit, 12 on 32-bit.</summary>
[SupportedOSPlatform("linux")]
public struct cmsghdr
{
    /// <summary>Header plus data length: <c>CMSG_LEN(data)</c>, never <c>CMSG_SPACE</c>.</summary>
    public nuint cmsg_len;

    /// <summary>Originating protocol, <see cref="LibC.SOL_SOCKET"/> for descriptors and credentials.</summary>
    public int cmsg_level;

    /// <summary>Protocol-specific type, e.g. <see cref="LibC.SCM_RIGHTS"/>.</summary>
    public int cmsg_type;
}

/// <summary>
/// <c>struct ucred</c> from &lt;sys/socket.h&gt;: the payload of <see cref="LibC.SO_PEERCRED"/> and <see cref="LibC.SCM_CREDENTIALS"/>.
/// </summary>
[SupportedOSPlatform("linux")]
public struct ucred
{
    /// <summary>Process id.</summary>
    public int pid;

    /// <summary>User id.</summary>
    public uint uid;

    /// <summary>Group id.</summary>
    public uint gid;
}

// <sys/socket.h>: the constants, the two calls that take Linux's msghdr, and the CMSG_* macros as methods.
public static unsafe partial class LibC
{
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

    public const int MSG_PEEK = 0x2;
    public const int MSG_CTRUNC = 0x8;
    public const int MSG_TRUNC = 0x20;
    public const int MSG_DONTWAIT = 0x40;
    public const int MSG_EOR = 0x80;
    public const int MSG_NOSIGNAL = 0x4000;
    public const int MSG_CMSG_CLOEXEC = 0x40000000;
#pragma warning restore CS1591

    /// <summary>Sends a message with optional ancillary data (sendmsg(2)). Returns bytes sent, or -1 and errno.</summary>
    [LibraryImport(Unix.LibC.Name, SetLastError = true)]
    public static partial nint sendmsg(int socket, msghdr* message, int flags);

    /// <summary>Receives a message with optional ancillary data (recvmsg(2)). Returns bytes read, 0 at end of stream, or -1 and errno.</summary>
    [LibraryImport(Unix.LibC.Name, SetLastError = true)]
    public static partial nint recvmsg(int socket, msghdr* message, int flags);

    // CMSG_ALIGN, CMSG_LEN and CMSG_SPACE are ControlMessageLayout's arithmetic, given Linux's sizeof(cmsghdr)
    // and alignment (sizeof(size_t) in glibc and musl); with both constant here, the JIT folds each call to a few adds.

    /// <summary><c>CMSG_ALIGN(len)</c>: rounds up to <c>sizeof(size_t)</c>.</summary>
    public static nuint CMSG_ALIGN(nuint len) => ControlMessageLayout.CmsgAlign(len, (nuint)sizeof(nuint));

    /// <summary><c>CMSG_SPACE(len)</c>: buffer room for a message with <paramref name="len"/> data bytes.</summary>
    public static nuint CMSG_SPACE(nuint len) => ControlMessageLayout.CmsgSpace(len, (nuint)sizeof(cmsghdr), (nuint)sizeof(nuint));

    /// <summary><c>CMSG_LEN(len)</c>: the <c>cmsg_len</c> of a message with <paramref name="len"/> data bytes.</summary>
    public static nuint CMSG_LEN(nuint len) => ControlMessageLayout.CmsgLen(len, (nuint)sizeof(cmsghdr), (nuint)sizeof(nuint));

    /// <summary><c>CMSG_DATA(cmsg)</c>: the first data byte, right after the aligned header.</summary>
    public static byte* CMSG_DATA(cmsghdr* cmsg) => (byte*)cmsg + CMSG_LEN(0);

    /// <summary><c>CMSG_FIRSTHDR(msg)</c>: the first header, or null when the buffer cannot hold one.</summary>
    public static cmsghdr* CMSG_FIRSTHDR(msghdr* msg) =>
        msg->msg_controllen >= (nuint)sizeof(cmsghdr) ? (cmsghdr*)msg->msg_control : null;

    /// <summary><c>CMSG_NXTHDR(msg, cmsg)</c>, as glibc computes it: null past the end or after a header shorter than itself.</summary>
    /// <remarks>
    /// Lengths are compared with the room left before any pointer moves, so a <c>cmsg_len</c> near
    /// 2^64 cannot wrap the pointer back into, or before, the buffer (as glibc 2.38 also does).
    /// </remarks>
    public static cmsghdr* CMSG_NXTHDR(msghdr* msg, cmsghdr* cmsg)
    {
        nuint remaining = (nuint)((byte*)msg->msg_control + msg->msg_controllen - (byte*)cmsg);
        nuint length = cmsg->cmsg_len;
        if (length < (nuint)sizeof(cmsghdr) || length > remaining)
        {
            return null;
        }

        nuint step = CMSG_ALIGN(length);
        if (step > remaining || remaining - step < (nuint)sizeof(cmsghdr))
        {
            return null;
        }

        var next = (cmsghdr*)((byte*)cmsg + step);
        nuint left = remaining - step;
        if (next->cmsg_len > left || CMSG_ALIGN(next->cmsg_len) > left)
        {
            return null;
        }

        return next;
    }

    /// <summary>The layout that <see cref="ControlMessageReader"/> and <see cref="ControlMessageWriter"/> take for this platform.</summary>
    public static ControlMessageLayout ControlMessageLayout =>
        IntPtr.Size == 8 ? ControlMessageLayout.Linux64 : ControlMessageLayout.Linux32;
}
