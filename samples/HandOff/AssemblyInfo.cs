using System.Runtime.Versioning;

// A Unix daemon: descriptor passing exists on Linux and macOS only.
[assembly: SupportedOSPlatform("linux")]
[assembly: SupportedOSPlatform("macos")]
