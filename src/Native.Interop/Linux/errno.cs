namespace AsyncSendFd.Native.Interop.Linux;

// <errno.h>: the errno values this layer names. macOS numbers several of them differently.
public static partial class LibC
{
#pragma warning disable CS1591 // The native names are the documentation: see errno(3).
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int EBADF = 9;
    public const int EAGAIN = 11;
    public const int ENOMEM = 12;
    public const int EEXIST = 17;
    public const int EINVAL = 22;
    public const int ENFILE = 23;
    public const int EMFILE = 24;
    public const int EPIPE = 32;
    public const int ENOTSOCK = 88;
    public const int EMSGSIZE = 90;
    public const int ENOPROTOOPT = 92;
    public const int ECONNRESET = 104;
    public const int ENOBUFS = 105;
    public const int ENOTCONN = 107;
    public const int ETOOMANYREFS = 109;
    public const int ETIMEDOUT = 110;
#pragma warning restore CS1591
}
