using System.Runtime.InteropServices;

namespace AsyncSendFd.Native.Interop.Darwin;

// <sys/mman.h>: POSIX shared memory objects and mapping them. macOS has no memfd_create and no file seals; an object
// opened with O_CREAT | O_EXCL and unlinked at once is the nearest thing, an anonymous memory file.
public static unsafe partial class LibC
{
#pragma warning disable CS1591 // The native names are the documentation: see mmap(2), shm_open(2).
    public const int PROT_READ = 0x1;
    public const int PROT_WRITE = 0x2;
    public const int MAP_SHARED = 0x1;
#pragma warning restore CS1591

    /// <summary>
    /// Opens or creates the shared memory object <paramref name="name"/> (NUL-terminated, at most 31 bytes). xnu sizes
    /// an object once: only its first <c>ftruncate</c> succeeds. Set <c>FD_CLOEXEC</c> yourself: older xnu leaves it clear.
    /// </summary>
    /// <remarks>
    /// shm_open is variadic (the mode follows <paramref name="oflag"/>). Apple arm64 passes variadic arguments on the
    /// stack, not in registers, so this method places <paramref name="mode"/> where that convention expects it.
    /// </remarks>
    public static int shm_open(byte* name, int oflag, int mode)
    {
        if (RuntimeInformation.ProcessArchitecture == Architecture.Arm64)
        {
            // Fill the eight argument registers so that mode lands in the first stack slot.
            return shm_open_apple_arm64(name, oflag, 0, 0, 0, 0, 0, 0, mode);
        }

        return shm_open_fixed(name, oflag, mode);
    }

    /// <summary>Removes the name of a shared memory object; the object lives on while descriptors or mappings refer to it.</summary>
    [LibraryImport(Unix.LibC.Name, SetLastError = true)]
    public static partial int shm_unlink(byte* name);

    /// <summary>Maps <paramref name="len"/> bytes of <paramref name="fd"/> from <paramref name="offset"/>; returns <c>MAP_FAILED</c> (-1) and errno on failure.</summary>
    [LibraryImport(Unix.LibC.Name, SetLastError = true)]
    public static partial void* mmap(void* addr, nuint len, int prot, int flags, int fd, long offset);

    /// <summary>Removes a mapping made by <see cref="mmap"/>.</summary>
    [LibraryImport(Unix.LibC.Name, SetLastError = true)]
    public static partial int munmap(void* addr, nuint len);

    [LibraryImport(Unix.LibC.Name, EntryPoint = "shm_open", SetLastError = true)]
    private static partial int shm_open_fixed(byte* name, int oflag, int mode);

    [LibraryImport(Unix.LibC.Name, EntryPoint = "shm_open", SetLastError = true)]
    private static partial int shm_open_apple_arm64(byte* name, int oflag, nint x2, nint x3, nint x4, nint x5, nint x6, nint x7, nint mode);
}
