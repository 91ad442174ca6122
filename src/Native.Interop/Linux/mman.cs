using System.Runtime.InteropServices;

namespace AsyncSendFd.Native.Interop.Linux;

// <sys/mman.h>: memfd_create, an anonymous file in memory that can be mapped, passed to another process and sealed.
public static unsafe partial class LibC
{
#pragma warning disable CS1591 // The native names are the documentation: see memfd_create(2).
    public const uint MFD_CLOEXEC = 0x1;
    public const uint MFD_ALLOW_SEALING = 0x2;

    // Linux 6.3+ (older kernels fail with EINVAL): not executable, sealed so (F_SEAL_EXEC), and sealable.
    public const uint MFD_NOEXEC_SEAL = 0x8;
#pragma warning restore CS1591

    /// <summary>
    /// Creates an anonymous memory file of size 0 and returns its descriptor. <paramref name="name"/> (NUL-terminated,
    /// at most 249 bytes) only labels it in <c>/proc/PID/fd</c>; <see cref="MFD_CLOEXEC"/> makes it close-on-exec
    /// atomically, <see cref="MFD_ALLOW_SEALING"/> lets <c>F_ADD_SEALS</c> seal it.
    /// </summary>
    [LibraryImport(Unix.LibC.Name, SetLastError = true)]
    public static partial int memfd_create(byte* name, uint flags);
}
