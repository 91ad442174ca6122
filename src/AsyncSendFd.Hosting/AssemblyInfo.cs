using System.Runtime.Versioning;

// Descriptor passing, signals and PID files: Linux and macOS only, like AsyncSendFd itself.
[assembly: SupportedOSPlatform("linux")]
[assembly: SupportedOSPlatform("macos")]
