using LinuxC = AsyncSendFd.Native.Interop.Linux.LibC;
using DarwinC = AsyncSendFd.Native.Interop.Darwin.LibC;

namespace AsyncSendFd.Internal;

#pragma warning disable CA1416 // Not Linux means macOS here: see NativeSocket.cs.

/// <summary>The errno values the library reacts to, for the running platform (the JIT folds the branch).</summary>
internal static class Errno
{
    public static int EAGAIN => OperatingSystem.IsLinux() ? LinuxC.EAGAIN : DarwinC.EAGAIN;

    public static int EINTR => OperatingSystem.IsLinux() ? LinuxC.EINTR : DarwinC.EINTR;
}
