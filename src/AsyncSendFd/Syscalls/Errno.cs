using Darwin = AsyncSendFd.Native.Interop.Darwin;
using Linux = AsyncSendFd.Native.Interop.Linux;

namespace AsyncSendFd.Syscalls;

/// <summary>The errno values the library reacts to, for the running platform, read once.</summary>
internal static class Errno
{
    public static readonly int EAGAIN = Os.IsLinux ? Linux.LibC.EAGAIN : Os.IsMacOS ? Darwin.LibC.EAGAIN : 0;

    public static readonly int EINTR = Os.IsLinux ? Linux.LibC.EINTR : Os.IsMacOS ? Darwin.LibC.EINTR : 0;
}
