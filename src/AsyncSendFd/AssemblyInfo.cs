using System.Runtime.CompilerServices;
using System.Runtime.Versioning;

[assembly: DisableRuntimeMarshalling]
[assembly: SupportedOSPlatform("linux")]
[assembly: SupportedOSPlatform("macos")]
