using System.Runtime.Versioning;

namespace AsyncSendFd.Native.Interop.Darwin;

[SupportedOSPlatform("macos")]
public static unsafe partial class LibC
{
    /// <summary><c>__DARWIN_ALIGN32(len)</c>: macOS aligns control messages to 4 bytes on every architecture.</summary>
    public static nuint CMSG_ALIGN(nuint len) => (len + 3) & ~(nuint)3;

    /// <summary><c>CMSG_SPACE(len)</c>: buffer room for a message with <paramref name="len"/> data bytes.</summary>
    public static nuint CMSG_SPACE(nuint len) => CMSG_ALIGN((nuint)sizeof(cmsghdr)) + CMSG_ALIGN(len);

    /// <summary><c>CMSG_LEN(len)</c>: the <c>cmsg_len</c> of a message with <paramref name="len"/> data bytes.</summary>
    public static nuint CMSG_LEN(nuint len) => CMSG_ALIGN((nuint)sizeof(cmsghdr)) + len;

    /// <summary><c>CMSG_DATA(cmsg)</c>: the first data byte.</summary>
    public static byte* CMSG_DATA(cmsghdr* cmsg) => (byte*)cmsg + CMSG_ALIGN((nuint)sizeof(cmsghdr));

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
