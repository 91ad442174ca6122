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
