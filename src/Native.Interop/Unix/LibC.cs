using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace AsyncSendFd.Native.Interop.Unix;

/// <summary>
/// libc functions whose signatures are the same on Linux (glibc, musl) and macOS.
/// Constants differ per platform: take them from <see cref="Linux.LibC"/> or <see cref="Darwin.LibC"/>.
/// </summary>
/// <remarks>
/// Every function sets errno on failure; read it with <see cref="Marshal.GetLastPInvokeError"/>
/// right after the call, before anything else can overwrite it.
/// </remarks>
[SupportedOSPlatform("linux")]
[SupportedOSPlatform("macos")]
public static unsafe partial class LibC
{
    /// <summary>The library name that resolves to the C library on glibc, musl and macOS.</summary>
    public const string Name = "libc";

    /// <summary>Closes a descriptor. Do not retry on <c>EINTR</c>: on Linux the descriptor is already gone.</summary>
    [LibraryImport(Name, SetLastError = true)]
    public static partial int close(int fd);

    /// <summary>Reads up to <paramref name="count"/> bytes.</summary>
    [LibraryImport(Name, SetLastError = true)]
    public static partial nint read(int fd, void* buf, nuint count);

    /// <summary>Writes up to <paramref name="count"/> bytes.</summary>
    [LibraryImport(Name, SetLastError = true)]
    public static partial nint write(int fd, void* buf, nuint count);

    /// <summary>Creates a pipe; <c>fds[0]</c> is the read end, <c>fds[1]</c> the write end. Not close-on-exec.</summary>
    [LibraryImport(Name, SetLastError = true)]
    public static partial int pipe(int* fds);

    /// <summary>Waits for events on a set of descriptors; <paramref name="timeout"/> in milliseconds, -1 for none.</summary>
    [LibraryImport(Name, SetLastError = true)]
    public static partial int poll(pollfd* fds, nuint nfds, int timeout);

    /// <summary>Creates a pair of connected sockets in <c>sv[0]</c> and <c>sv[1]</c>.</summary>
    [LibraryImport(Name, SetLastError = true)]
    public static partial int socketpair(int domain, int type, int protocol, int* sv);

    /// <summary>The real user id of the calling process.</summary>
    [LibraryImport(Name)]
    public static partial uint getuid();

    /// <summary>The real group id of the calling process.</summary>
    [LibraryImport(Name)]
    public static partial uint getgid();

    /// <summary>Reads a socket option.</summary>
    [LibraryImport(Name, SetLastError = true)]
    public static partial int getsockopt(int socket, int level, int option_name, void* option_value, uint* option_len);

    /// <summary>Sets a socket option.</summary>
    [LibraryImport(Name, SetLastError = true)]
    public static partial int setsockopt(int socket, int level, int option_name, void* option_value, uint option_len);

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
