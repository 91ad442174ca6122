using System.Runtime.Versioning;

// The suite runs on every platform the packages claim. Tests of something only Linux has (SO_PEERPIDFD, MSG_CMSG_CLOEXEC,
// /proc, seqpacket, the C headers, epoll) are [LinuxFact]/[LinuxTheory] and [SupportedOSPlatform("linux")]: skipped
// elsewhere, and the platform analyzer checks that nothing else calls Linux-only code.
[assembly: SupportedOSPlatform("linux")]
[assembly: SupportedOSPlatform("macos")]
