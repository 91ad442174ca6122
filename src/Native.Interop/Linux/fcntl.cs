namespace AsyncSendFd.Native.Interop.Linux;

// <fcntl.h>: the values; the call is Unix.LibC.fcntl.
public static partial class LibC
{
#pragma warning disable CS1591 // The native names are the documentation: see fcntl(2).
    public const int F_DUPFD_CLOEXEC = 1030;
    public const int F_GETFD = 1;
    public const int F_SETFD = 2;
    public const int F_GETFL = 3;
    public const int F_SETFL = 4;
    public const int FD_CLOEXEC = 1;
    public const int O_NONBLOCK = 0x800;

    // File seals (Linux 3.17+): F_ADD_SEALS adds them to a memory file for good; F_GET_SEALS reads them, and fails with
    // EINVAL on a file that cannot carry seals (anything but a memory file: tmpfs or hugetlbfs).
    public const int F_ADD_SEALS = 1033;
    public const int F_GET_SEALS = 1034;
    public const int F_SEAL_SEAL = 0x1;
    public const int F_SEAL_SHRINK = 0x2;
    public const int F_SEAL_GROW = 0x4;
    public const int F_SEAL_WRITE = 0x8;
#pragma warning restore CS1591
}
