using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using AsyncSendFd.Native.Interop.Unix;

namespace AsyncSendFd.Native.Interop.Darwin;

/// <summary><c>struct msghdr</c> from &lt;sys/socket.h&gt; on macOS: 48 bytes, <c>int</c> and <c>socklen_t</c> counts.</summary>
[SupportedOSPlatform("macos")]
public unsafe struct msghdr
{
    /// <summary>Optional address (datagram destination or source).</summary>
    public void* msg_name;

    /// <summary>Size of <see cref="msg_name"/> in bytes.</summary>
    public uint msg_namelen;

    /// <summary>Scatter/gather array.</summary>
    public iovec* msg_iov;

    /// <summary>Number of elements in <see cref="msg_iov"/>.</summary>
    public int msg_iovlen;

    /// <summary>Ancillary data buffer (a sequence of <see cref="cmsghdr"/>).</summary>
    public void* msg_control;

    /// <summary>Ancillary data buffer length; on return, the length the kernel filled in.</summary>
    public uint msg_controllen;

    /// <summary>Flags on the received message (<c>MSG_CTRUNC</c>, <c>MSG_TRUNC</c>, ...).</summary>
    public int msg_flags;
}

/// <summary><c>struct cmsghdr</c> from &lt;sys/socket.h&gt; on macOS: 12 bytes, 4-byte aligned.</summary>
[SupportedOSPlatform("macos")]
public struct cmsghdr
{
    /// <summary>Header plus data length: <c>CMSG_LEN(data)</c>.</summary>
    public uint cmsg_len;

    /// <summary>Originating protocol, <see cref="LibC.SOL_SOCKET"/> for descriptors.</summary>
    public int cmsg_level;

    /// <summary>Protocol-specific type, e.g. <see cref="LibC.SCM_RIGHTS"/>.</summary>
    public int cmsg_type;
}

// <sys/socket.h>: the constants, the two calls that take macOS's msghdr, and the CMSG_* macros as methods.
public static unsafe partial class LibC
{
#pragma warning disable CS1591 // The native names are the documentation: see socket(2), unix(4), recvmsg(2).
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
#pragma warning restore CS1591

    /// <summary>Sends a message with optional ancillary data (sendmsg(2)). Returns bytes sent, or -1 and errno.</summary>
    [LibraryImport(Unix.LibC.Name, SetLastError = true)]
    public static partial nint sendmsg(int socket, msghdr* message, int flags);

    /// <summary>Receives a message with optional ancillary data (recvmsg(2)). Returns bytes read, 0 at end of stream, or -1 and errno.</summary>
    [LibraryImport(Unix.LibC.Name, SetLastError = true)]
    public static partial nint recvmsg(int socket, msghdr* message, int flags);

    // CMSG_ALIGN, CMSG_LEN and CMSG_SPACE are ControlMessageLayout's arithmetic, given macOS's sizeof(cmsghdr)
    // and alignment (__DARWIN_ALIGN32: 4 bytes on every architecture); with both constant, the JIT folds each call.

    /// <summary><c>CMSG_ALIGN(len)</c>, <c>__DARWIN_ALIGN32(len)</c>: macOS aligns control messages to 4 bytes on every architecture.</summary>
    public static nuint CMSG_ALIGN(nuint len) => ControlMessageLayout.CmsgAlign(len, sizeof(uint));

    /// <summary><c>CMSG_SPACE(len)</c>: buffer room for a message with <paramref name="len"/> data bytes.</summary>
    public static nuint CMSG_SPACE(nuint len) => ControlMessageLayout.CmsgSpace(len, (nuint)sizeof(cmsghdr), sizeof(uint));

    /// <summary><c>CMSG_LEN(len)</c>: the <c>cmsg_len</c> of a message with <paramref name="len"/> data bytes.</summary>
    public static nuint CMSG_LEN(nuint len) => ControlMessageLayout.CmsgLen(len, (nuint)sizeof(cmsghdr), sizeof(uint));

    /// <summary><c>CMSG_DATA(cmsg)</c>: the first data byte, right after the aligned header.</summary>
    public static byte* CMSG_DATA(cmsghdr* cmsg) => (byte*)cmsg + CMSG_LEN(0);

    /// <summary><c>CMSG_FIRSTHDR(msg)</c>: the first header, or null when the buffer cannot hold one.</summary>
    public static cmsghdr* CMSG_FIRSTHDR(msghdr* msg) =>
        msg->msg_controllen >= (uint)sizeof(cmsghdr) ? (cmsghdr*)msg->msg_control : null;

    /// <summary>
    /// <c>CMSG_NXTHDR(msg, cmsg)</c>: null past the end. Stricter than the macOS macro, which trusts
    /// <c>cmsg_len</c>: a header shorter than itself also ends the walk.
    /// </summary>
    public static cmsghdr* CMSG_NXTHDR(msghdr* msg, cmsghdr* cmsg)
    {
        if (cmsg->cmsg_len < (uint)sizeof(cmsghdr))
        {
            return null;
        }

        byte* end = (byte*)msg->msg_control + msg->msg_controllen;
        var next = (cmsghdr*)((byte*)cmsg + CMSG_ALIGN(cmsg->cmsg_len));
        if ((byte*)(next + 1) > end || (byte*)next + CMSG_ALIGN(next->cmsg_len) > end)
        {
            return null;
        }

        return next;
    }

    /// <summary>The layout that <see cref="ControlMessageReader"/> and <see cref="ControlMessageWriter"/> take on macOS.</summary>
    public static ControlMessageLayout ControlMessageLayout => ControlMessageLayout.Darwin;
}
