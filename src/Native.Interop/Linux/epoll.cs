using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace AsyncSendFd.Native.Interop.Linux;

/// <summary>
/// <c>struct epoll_event</c> from &lt;sys/epoll.h&gt; on every architecture except x86 and x86-64:
/// <c>data</c> is 8-byte aligned, 16 bytes in all. On x86 and x86-64 use <see cref="epoll_event_packed"/>.
/// </summary>
[SupportedOSPlatform("linux")]
public struct epoll_event
{
    /// <summary>The events asked for (<c>epoll_ctl</c>) or that happened (<c>epoll_wait</c>).</summary>
    public uint events;

    /// <summary>The caller's value (the <c>epoll_data_t</c> union as its <c>u64</c> member), handed back with each event.</summary>
    public ulong data;
}

/// <summary>
/// <c>struct epoll_event</c> on x86 and x86-64, where the kernel declares it packed (<c>EPOLL_PACKED</c>):
/// <c>data</c> at offset 4, 12 bytes in all. A library built for any CPU picks one of the two layouts at run time.
/// </summary>
[SupportedOSPlatform("linux")]
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public struct epoll_event_packed
{
    /// <summary>The events asked for (<c>epoll_ctl</c>) or that happened (<c>epoll_wait</c>).</summary>
    public uint events;

    /// <summary>The caller's value (the <c>epoll_data_t</c> union as its <c>u64</c> member), handed back with each event.</summary>
    public ulong data;
}

// <sys/epoll.h>: readiness notification for many descriptors, O(1) per registration and per event.
public static unsafe partial class LibC
{
#pragma warning disable CS1591 // The native names are the documentation: see epoll_ctl(2).
    public const int EPOLL_CLOEXEC = 0x80000;

    public const int EPOLL_CTL_ADD = 1;
    public const int EPOLL_CTL_DEL = 2;
    public const int EPOLL_CTL_MOD = 3;

    public const uint EPOLLIN = 0x1;
    public const uint EPOLLOUT = 0x4;
    public const uint EPOLLERR = 0x8;
    public const uint EPOLLHUP = 0x10;
    public const uint EPOLLRDHUP = 0x2000;
    public const uint EPOLLONESHOT = 1u << 30;
    public const uint EPOLLET = 1u << 31;
#pragma warning restore CS1591

    /// <summary>Creates an epoll instance; pass <see cref="EPOLL_CLOEXEC"/> to make its descriptor close-on-exec atomically.</summary>
    [LibraryImport(Unix.LibC.Name, SetLastError = true)]
    public static partial int epoll_create1(int flags);

    /// <summary>
    /// Adds, changes or removes <paramref name="fd"/> in the interest list. <paramref name="event"/> points to an
    /// <see cref="epoll_event"/> or, on x86 and x86-64, an <see cref="epoll_event_packed"/>.
    /// </summary>
    [LibraryImport(Unix.LibC.Name, SetLastError = true)]
    public static partial int epoll_ctl(int epfd, int op, int fd, void* @event);

    /// <summary>
    /// Waits up to <paramref name="timeout"/> milliseconds (-1: for ever) for events, writing at most
    /// <paramref name="maxevents"/> of them to <paramref name="events"/> (an array of the platform's epoll_event layout).
    /// </summary>
    /// <returns>The number of events, 0 on timeout, or -1 and errno.</returns>
    [LibraryImport(Unix.LibC.Name, SetLastError = true)]
    public static partial int epoll_wait(int epfd, void* events, int maxevents, int timeout);
}
