namespace AsyncSendFd.Native.Interop.Darwin;

// <sys/errno.h>: the errno values this layer names. Linux numbers several of them differently.
public static partial class LibC
{
#pragma warning disable CS1591 // The native names are the documentation: see intro(2).
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int EBADF = 9;
    public const int ENOMEM = 12;
    public const int EEXIST = 17;
    public const int EINVAL = 22;
    public const int ENFILE = 23;
    public const int EMFILE = 24;
    public const int EPIPE = 32;
    public const int EAGAIN = 35;
    public const int ENOTSOCK = 38;
    public const int EMSGSIZE = 40;
    public const int ENOPROTOOPT = 42;
    public const int ECONNRESET = 54;
    public const int ENOBUFS = 55;
    public const int ENOTCONN = 57;
    public const int ETOOMANYREFS = 59;
    public const int ETIMEDOUT = 60;
#pragma warning restore CS1591
}
