using System.Runtime.Versioning;

namespace AsyncSendFd.Native.Interop.Darwin;

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
