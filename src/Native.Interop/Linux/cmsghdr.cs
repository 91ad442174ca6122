using System.Runtime.Versioning;

namespace AsyncSendFd.Native.Interop.Linux;

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
