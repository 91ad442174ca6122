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
