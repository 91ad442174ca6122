using System.Runtime.Versioning;

namespace AsyncSendFd.Native.Interop.Darwin;

/// <summary><c>struct timespec</c> from &lt;time.h&gt; (64-bit macOS): a duration for <see cref="LibC.kevent"/>.</summary>
[SupportedOSPlatform("macos")]
public struct timespec
{
    /// <summary>Seconds.</summary>
    public nint tv_sec;

    /// <summary>Nanoseconds, below one second.</summary>
    public nint tv_nsec;
}
