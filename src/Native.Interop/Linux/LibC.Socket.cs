using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace AsyncSendFd.Native.Interop.Linux;

[SupportedOSPlatform("linux")]
public static unsafe partial class LibC
{
    /// <summary>Sends a message with optional ancillary data (sendmsg(2)). Returns bytes sent, or -1 and errno.</summary>
    [LibraryImport(Unix.LibC.Name, SetLastError = true)]
    public static partial nint sendmsg(int sockfd, msghdr* msg, int flags);

    /// <summary>Receives a message with optional ancillary data (recvmsg(2)). Returns bytes read, 0 at end of stream, or -1 and errno.</summary>
    [LibraryImport(Unix.LibC.Name, SetLastError = true)]
    public static partial nint recvmsg(int sockfd, msghdr* msg, int flags);
}
