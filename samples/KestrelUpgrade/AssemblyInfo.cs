using System.Runtime.Versioning;

// A Unix daemon: descriptor passing and signals exist on Linux and macOS only.
[assembly: SupportedOSPlatform("linux")]
[assembly: SupportedOSPlatform("macos")]
