using System.Runtime.Versioning;

namespace AsyncSendFd.Native.Interop.Darwin;

/// <summary><c>struct xucred</c> from &lt;sys/ucred.h&gt;: the payload of <see cref="LibC.LOCAL_PEERCRED"/>, 76 bytes.</summary>
[SupportedOSPlatform("macos")]
public unsafe struct xucred
{
    /// <summary>Structure version, <see cref="LibC.XUCRED_VERSION"/>.</summary>
    public uint cr_version;

    /// <summary>Effective user id.</summary>
    public uint cr_uid;

    /// <summary>Number of valid entries in <see cref="cr_groups"/>.</summary>
    public short cr_ngroups;

    /// <summary>Groups; <c>cr_groups[0]</c> is the effective group id.</summary>
    public fixed uint cr_groups[16];
}

// <sys/ucred.h>
public static partial class LibC
{
#pragma warning disable CS1591 // The native name is the documentation: see <sys/ucred.h>.
    public const uint XUCRED_VERSION = 0;
#pragma warning restore CS1591
}
