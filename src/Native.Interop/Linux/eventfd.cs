using System.Runtime.InteropServices;

namespace AsyncSendFd.Native.Interop.Linux;

// <sys/eventfd.h>: an 8-byte counter with a descriptor, the cheapest way to wake a thread in epoll_wait.
public static partial class LibC
{
#pragma warning disable CS1591 // The native names are the documentation: see eventfd(2).
    public const int EFD_CLOEXEC = 0x80000;
    public const int EFD_NONBLOCK = 0x800;
#pragma warning restore CS1591

    /// <summary>Creates an event counter starting at <paramref name="initval"/>; <see cref="EFD_CLOEXEC"/> makes it close-on-exec atomically.</summary>
    [LibraryImport(Unix.LibC.Name, SetLastError = true)]
    public static partial int eventfd(uint initval, int flags);
}
