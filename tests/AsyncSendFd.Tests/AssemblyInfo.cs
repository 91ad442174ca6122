using System.Runtime.Versioning;

// The suite runs on Linux: it reads /proc and compiles C against the machine's headers.
[assembly: SupportedOSPlatform("linux")]
