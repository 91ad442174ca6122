using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using Darwin = AsyncSendFd.Native.Interop.Darwin;
using Linux = AsyncSendFd.Native.Interop.Linux;

namespace AsyncSendFd.Tests.Support;

/// <summary>
/// libc calls the tests need that the library's interop layer does not bind, and the constants whose values differ
/// between Linux and macOS, chosen once (64-bit only, like the library).
/// </summary>
internal static unsafe partial class TestLibC
{
    /// <summary>Linux O_CLOEXEC, for pipe2.</summary>
    public const int O_CLOEXEC = 0x80000;
    public const int SIGPIPE = 13;
    public const int SIG_BLOCK = 0;
    public const int SIG_UNBLOCK = 1;

    /// <summary>glibc's sigset_t is 1024 bits.</summary>
    public const int SigSetBytes = 128;

    /// <summary>F_GETFD, F_SETFD and FD_CLOEXEC are the same on Linux and macOS.</summary>
    public const int F_GETFD = 1;
    public const int F_SETFD = 2;
    public const int FD_CLOEXEC = 1;

    /// <summary>POLLIN and POLLHUP are the same on Linux and macOS.</summary>
    public const short POLLIN = 0x1;
    public const short POLLHUP = 0x10;

    /// <summary>macOS fcntl command: the path of the file a descriptor refers to, into a MAXPATHLEN (1024) buffer.</summary>
    private const int F_GETPATH = 50;

    /// <summary>AF_UNIX and SOCK_STREAM are the same on Linux and macOS.</summary>
    public const int AF_UNIX = 1;
    public const int SOCK_STREAM = 1;

    public static int F_DUPFD_CLOEXEC =>
        OperatingSystem.IsLinux() ? Linux.LibC.F_DUPFD_CLOEXEC : OperatingSystem.IsMacOS() ? Darwin.LibC.F_DUPFD_CLOEXEC : throw new PlatformNotSupportedException();

    public static int MSG_DONTWAIT =>
        OperatingSystem.IsLinux() ? Linux.LibC.MSG_DONTWAIT : OperatingSystem.IsMacOS() ? Darwin.LibC.MSG_DONTWAIT : throw new PlatformNotSupportedException();

    public static int MSG_NOSIGNAL =>
        OperatingSystem.IsLinux() ? Linux.LibC.MSG_NOSIGNAL : OperatingSystem.IsMacOS() ? Darwin.LibC.MSG_NOSIGNAL : throw new PlatformNotSupportedException();

    public static int EAGAIN =>
        OperatingSystem.IsLinux() ? Linux.LibC.EAGAIN : OperatingSystem.IsMacOS() ? Darwin.LibC.EAGAIN : throw new PlatformNotSupportedException();

    public static int EPIPE =>
        OperatingSystem.IsLinux() ? Linux.LibC.EPIPE : OperatingSystem.IsMacOS() ? Darwin.LibC.EPIPE : throw new PlatformNotSupportedException();

    [SupportedOSPlatform("linux")]
    [LibraryImport("libc", SetLastError = true)]
    public static partial int pipe2(int* fds, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int pipe(int* fds);

    /// <summary>Sets a file's size; off_t is 64-bit on the 64-bit Linux this suite runs on.</summary>
    [SupportedOSPlatform("linux")]
    [LibraryImport("libc", SetLastError = true)]
    public static partial int ftruncate(int fd, long length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint send(int socket, void* buffer, nuint length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int pthread_sigmask(int how, void* set, void* oldset);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int sigpending(void* set);

    [SupportedOSPlatform("linux")]
    [LibraryImport("libc", SetLastError = true)]
    public static partial int sigtimedwait(void* set, void* info, void* timeout);

    /// <summary>The path of the file behind <paramref name="fd"/> (macOS F_GETPATH), or null for a pipe or socket.</summary>
    [SupportedOSPlatform("macos")]
    public static string? PathOf(int fd)
    {
        byte* path = stackalloc byte[1024];
        // fcntl is variadic: Apple arm64 passes the variadic argument on the stack, after the eight register slots.
        int result = RuntimeInformation.ProcessArchitecture == Architecture.Arm64
            ? fcntl_pointer_apple_arm64(fd, F_GETPATH, 0, 0, 0, 0, 0, 0, path)
            : fcntl_pointer(fd, F_GETPATH, path);
        return result == -1 ? null : Marshal.PtrToStringUTF8((nint)path);
    }

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int fcntl_pointer(int fd, int cmd, byte* arg);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int fcntl_pointer_apple_arm64(int fd, int cmd, nint x2, nint x3, nint x4, nint x5, nint x6, nint x7, byte* arg);

    /// <summary>macOS fstat: "pipe:[dev:ino]", "socket:[dev:ino]" or "file:[dev:ino]" (64-bit struct stat: dev_t at 0, mode_t at 4, ino_t at 8).</summary>
    [SupportedOSPlatform("macos")]
    public static string? IdentityOf(int fd)
    {
        byte* stat = stackalloc byte[256]; // sizeof(struct stat) is 144
        int result = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? fstat(fd, stat) : fstat_inode64(fd, stat);
        if (result != 0)
        {
            return null;
        }

        int dev = *(int*)stat;
        int type = *(ushort*)(stat + 4) & 0xF000;
        ulong ino = *(ulong*)(stat + 8);
        string kind = type switch
        {
            0x1000 => "pipe",
            0xC000 => "socket",
            _ => "file",
        };
        return $"{kind}:[{dev}:{ino}]";
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fstat(int fd, byte* stat);

    [LibraryImport("libc", EntryPoint = "fstat$INODE64", SetLastError = true)]
    private static partial int fstat_inode64(int fd, byte* stat);
}
