namespace AsyncSendFd.Native.Interop.Linux;

// <poll.h>: the values; the call and struct pollfd are Unix.LibC.poll and Unix.pollfd.
public static partial class LibC
{
#pragma warning disable CS1591 // The native names are the documentation: see poll(2).
    public const short POLLIN = 0x1;
    public const short POLLOUT = 0x4;
    public const short POLLERR = 0x8;
    public const short POLLHUP = 0x10;
    public const short POLLNVAL = 0x20;
#pragma warning restore CS1591
}
