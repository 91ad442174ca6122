using System.Runtime.InteropServices;

namespace AsyncSendFd.Native.Interop.Unix;

// <unistd.h>
public static unsafe partial class LibC
{
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

    /// <summary>The real user id of the calling process.</summary>
    [LibraryImport(Name)]
    public static partial uint getuid();

    /// <summary>The real group id of the calling process.</summary>
    [LibraryImport(Name)]
    public static partial uint getgid();
}
