using System.Runtime.Versioning;

namespace AsyncSendFd.Native.Interop.Linux;

/// <summary>
/// <c>struct ucred</c>: the payload of <see cref="LibC.SO_PEERCRED"/> and <see cref="LibC.SCM_CREDENTIALS"/>.
/// </summary>
[SupportedOSPlatform("linux")]
public struct ucred
{
    /// <summary>Process id.</summary>
    public int pid;

    /// <summary>User id.</summary>
    public uint uid;

    /// <summary>Group id.</summary>
    public uint gid;
}
