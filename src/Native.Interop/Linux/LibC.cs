using System.Runtime.Versioning;

namespace AsyncSendFd.Native.Interop.Linux;

/// <summary>
/// Linux bindings (glibc and musl), one source file per C header: the layouts, constants and macros that differ
/// from macOS, and the functions that take them. What both platforms share is in <see cref="Unix.LibC"/>.
/// </summary>
/// <remarks>
/// The constants hold for x86, x64, arm and arm64 (and every target on the generic ABI). MIPS, PowerPC, SPARC
/// and Alpha number some socket options and types differently; they are not covered.
/// </remarks>
[SupportedOSPlatform("linux")]
public static partial class LibC;
