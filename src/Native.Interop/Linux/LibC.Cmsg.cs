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
    public static cmsghdr* CMSG_NXTHDR(msghdr* msg, cmsghdr* cmsg)
    {
        if (cmsg->cmsg_len < (nuint)sizeof(cmsghdr))
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

    /// <summary>The layout that <see cref="ControlMessageReader"/> and <see cref="ControlMessageWriter"/> take for this platform.</summary>
    public static ControlMessageLayout ControlMessageLayout =>
        IntPtr.Size == 8 ? ControlMessageLayout.Linux64 : ControlMessageLayout.Linux32;
}
