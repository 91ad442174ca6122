namespace AsyncSendFd.Native.Interop.Darwin;

// <fcntl.h>: the values; the call is Unix.LibC.fcntl.
public static partial class LibC
{
#pragma warning disable CS1591 // The native names are the documentation: see fcntl(2).
    public const int F_GETFD = 1;
    public const int F_SETFD = 2;
    public const int F_GETFL = 3;
    public const int F_SETFL = 4;
    public const int F_DUPFD_CLOEXEC = 67;
    public const int FD_CLOEXEC = 1;
    public const int O_NONBLOCK = 0x4;
    public const int O_RDWR = 0x2;
    public const int O_CREAT = 0x200;
    public const int O_EXCL = 0x800;
#pragma warning restore CS1591
}
