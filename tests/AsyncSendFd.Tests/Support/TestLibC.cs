using System.Runtime.InteropServices;

namespace AsyncSendFd.Tests.Support;

/// <summary>libc calls the tests need that the library's interop layer does not bind (Linux, 64-bit).</summary>
internal static unsafe partial class TestLibC
{
    public const int O_CLOEXEC = 0x80000;
    public const int SIGPIPE = 13;
    public const int SIG_BLOCK = 0;
    public const int SIG_UNBLOCK = 1;

    /// <summary>glibc's sigset_t is 1024 bits.</summary>
    public const int SigSetBytes = 128;

    [LibraryImport("libc", SetLastError = true)]
    public static partial int pipe2(int* fds, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint send(int socket, void* buffer, nuint length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int pthread_sigmask(int how, void* set, void* oldset);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int sigpending(void* set);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int sigtimedwait(void* set, void* info, void* timeout);
}
