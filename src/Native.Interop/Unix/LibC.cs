using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace AsyncSendFd.Native.Interop.Unix;

/// <summary>
/// libc functions whose signatures are the same on Linux (glibc, musl) and macOS, one source file per C header.
/// Constants differ per platform: take them from <see cref="Linux.LibC"/> or <see cref="Darwin.LibC"/>.
/// </summary>
/// <remarks>
/// Every function sets errno on failure; read it with <see cref="Marshal.GetLastPInvokeError"/>
/// right after the call, before anything else can overwrite it.
/// </remarks>
[SupportedOSPlatform("linux")]
[SupportedOSPlatform("macos")]
public static partial class LibC
{
    /// <summary>The library name that resolves to the C library on glibc, musl and macOS.</summary>
    public const string Name = "libc";
}
