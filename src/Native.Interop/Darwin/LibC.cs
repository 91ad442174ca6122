using System.Runtime.Versioning;

namespace AsyncSendFd.Native.Interop.Darwin;

/// <summary>
/// macOS bindings (x64 and arm64), one source file per C header: the layouts, constants and macros that differ
/// from Linux, and the functions that take them. What both platforms share is in <see cref="Unix.LibC"/>.
/// </summary>
[SupportedOSPlatform("macos")]
public static partial class LibC;
