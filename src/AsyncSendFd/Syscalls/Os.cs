using System.Runtime.Versioning;

namespace AsyncSendFd.Syscalls;

/// <summary>
/// Which platform this is, for the branches that differ. The guard attributes let the platform analyzer follow each
/// branch, so no file needs to silence it; the JIT and NativeAOT fold the checks to constants. (Validate.Platform and
/// PeerCredentialCalls ask <see cref="OperatingSystem"/> directly, which the analyzer follows as well.)
/// </summary>
internal static class Os
{
    [SupportedOSPlatformGuard("linux")]
    public static bool IsLinux => OperatingSystem.IsLinux();

    [SupportedOSPlatformGuard("macos")]
    public static bool IsMacOS => OperatingSystem.IsMacOS();

    /// <summary>For the branch that neither platform takes; the assembly supports only these two.</summary>
    public static PlatformNotSupportedException NotSupported() => new("Passing descriptors is supported on Linux and macOS.");
}
