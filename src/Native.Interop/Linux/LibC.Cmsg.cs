using System.Runtime.Versioning;

namespace AsyncSendFd.Native.Interop.Linux;

[SupportedOSPlatform("linux")]
public static unsafe partial class LibC
{
    /// <summary><c>CMSG_ALIGN(len)</c>: rounds up to <c>sizeof(size_t)</c>.</summary>
    public static nuint CMSG_ALIGN(nuint len) => (len + (nuint)sizeof(nuint) - 1) & ~((nuint)sizeof(nuint) - 1);

    /// <summary><c>CMSG_SPACE(len)</c>: buffer room for a message with <paramref name="len"/> data bytes.</summary>
    public static nuint CMSG_SPACE(nuint len) => CMSG_ALIGN((nuint)sizeof(cmsghdr)) + CMSG_ALIGN(len);

    /// <summary><c>CMSG_LEN(len)</c>: the <c>cmsg_len</c> of a message with <paramref name="len"/> data bytes.</summary>
    public static nuint CMSG_LEN(nuint len) => CMSG_ALIGN((nuint)sizeof(cmsghdr)) + len;

    /// <summary><c>CMSG_DATA(cmsg)</c>: the first data byte.</summary>
    public static byte* CMSG_DATA(cmsghdr* cmsg) => (byte*)cmsg + CMSG_ALIGN((nuint)sizeof(cmsghdr));

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
