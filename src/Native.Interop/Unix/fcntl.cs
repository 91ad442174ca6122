using System.Runtime.InteropServices;

namespace AsyncSendFd.Native.Interop.Unix;

// <fcntl.h>: the call; the F_* and O_* values are in each platform's fcntl.cs.
public static partial class LibC
{
    /// <summary>
    /// <c>fcntl(fd, cmd, arg)</c> for the integer-argument commands (<c>F_GETFD</c>, <c>F_SETFD</c>,
    /// <c>F_GETFL</c>, <c>F_SETFL</c>, <c>F_DUPFD_CLOEXEC</c>).
    /// </summary>
    /// <remarks>
    /// fcntl is variadic. Apple arm64 passes variadic arguments on the stack, not in registers,
    /// so a plain three-argument import would hand the kernel garbage there; this method places
    /// <paramref name="arg"/> where that convention expects it.
    /// </remarks>
    public static int fcntl(int fd, int cmd, int arg)
    {
        if (OperatingSystem.IsMacOS() && RuntimeInformation.ProcessArchitecture == Architecture.Arm64)
        {
            // Fill the eight argument registers so that arg lands in the first stack slot.
            return fcntl_apple_arm64(fd, cmd, 0, 0, 0, 0, 0, 0, arg);
        }

        return fcntl_fixed(fd, cmd, arg);
    }

    [LibraryImport(Name, EntryPoint = "fcntl", SetLastError = true)]
    private static partial int fcntl_fixed(int fd, int cmd, int arg);

    [LibraryImport(Name, EntryPoint = "fcntl", SetLastError = true)]
    private static partial int fcntl_apple_arm64(int fd, int cmd, nint x2, nint x3, nint x4, nint x5, nint x6, nint x7, nint arg);
}
