using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using AsyncSendFd.Native.Interop.Unix;
using AsyncSendFd.Syscalls;
using Linux = AsyncSendFd.Native.Interop.Linux;

namespace AsyncSendFd.Engine;

/// <summary>
/// epoll, registered one-shot and level-triggered, armed only while someone waits.
/// </summary>
/// <remarks>
/// .NET's engine and mio register each socket once, edge-triggered, for both directions: no syscall per wait,
/// but the event thread wakes on every message the peer sends, waited for or not (measured here: one wake-up per
/// four descriptors in a busy pipeline, 40% of its throughput). tokio absorbs those wake-ups because the worker
/// that is about to park runs the reactor itself; a .NET library has no such worker. So this backend pays one
/// epoll_ctl per wait instead, and the threads wake only for a waiter. Level-triggered arming also closes the race
/// between a failed recvmsg and the arm: data that came in between is reported at once.
/// </remarks>
[SupportedOSPlatform("linux")]
internal sealed unsafe class EpollBackend : IReadinessBackend
{
    private const int Capacity = 64;

    /// <summary>The kernel packs <c>struct epoll_event</c> on x86 and x86-64 only; the library is built for any CPU.</summary>
    private static readonly bool IsPacked = RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.X86;

    private readonly int _epoll;

    private EpollBackend(int epoll) => _epoll = epoll;

    public bool EventDisarmsAllDirections => true;

    /// <summary>Creates the epoll instance, close-on-exec from the start.</summary>
    public static Errno TryCreate(out EpollBackend? backend)
    {
        int epoll = Linux.LibC.epoll_create1(Linux.LibC.EPOLL_CLOEXEC);
        backend = epoll >= 0 ? new EpollBackend(epoll) : null;
        return epoll >= 0 ? Errno.Success : Errno.Last;
    }

    // ENOENT and EEXIST each point to the other operation: a descriptor we registered can be unknown to the kernel
    // (its file was closed and the number reused), and a new number can be known (an earlier file with that number
    // is still open elsewhere, e.g. in flight in a message, so the kernel kept its registration).
    public Errno Register(int fd, ulong token, Interest interest)
    {
        Errno added = Control(Linux.LibC.EPOLL_CTL_ADD, fd, token, interest);
        return added.Value == Linux.LibC.EEXIST ? Control(Linux.LibC.EPOLL_CTL_MOD, fd, token, interest) : added;
    }

    public Errno Reregister(int fd, ulong token, Interest interest)
    {
        Errno modified = Control(Linux.LibC.EPOLL_CTL_MOD, fd, token, interest);
        return modified.Value == Linux.LibC.ENOENT ? Control(Linux.LibC.EPOLL_CTL_ADD, fd, token, interest) : modified;
    }

    public Errno Wait(Span<ReadinessEvent> events, int timeoutMilliseconds, out int count)
    {
        int capacity = Math.Min(events.Length, Capacity);
        int result;
        if (IsPacked)
        {
            Linux.epoll_event_packed* ready = stackalloc Linux.epoll_event_packed[capacity];
            result = Linux.LibC.epoll_wait(_epoll, ready, capacity, timeoutMilliseconds);
            for (int i = 0; i < result; i++)
            {
                events[i] = new ReadinessEvent(ready[i].data, ReadyFrom(ready[i].events));
            }
        }
        else
        {
            Linux.epoll_event* ready = stackalloc Linux.epoll_event[capacity];
            result = Linux.LibC.epoll_wait(_epoll, ready, capacity, timeoutMilliseconds);
            for (int i = 0; i < result; i++)
            {
                events[i] = new ReadinessEvent(ready[i].data, ReadyFrom(ready[i].events));
            }
        }

        count = Math.Max(result, 0);
        return result >= 0 ? Errno.Success : Errno.Last;
    }

    public void Dispose() => _ = LibC.close(_epoll);

    /// <summary>The interest bits for a one-shot, level-triggered registration.</summary>
    internal static uint EventsFor(Interest interest) =>
        Linux.LibC.EPOLLONESHOT
        | ((interest & Interest.Read) != 0 ? Linux.LibC.EPOLLIN : 0)
        | ((interest & Interest.Write) != 0 ? Linux.LibC.EPOLLOUT : 0);

    /// <summary>The directions worth retrying: an error or hang-up wakes both.</summary>
    internal static Interest ReadyFrom(uint events) =>
        ((events & (Linux.LibC.EPOLLIN | Linux.LibC.EPOLLRDHUP | Linux.LibC.EPOLLHUP | Linux.LibC.EPOLLERR)) != 0 ? Interest.Read : 0)
        | ((events & (Linux.LibC.EPOLLOUT | Linux.LibC.EPOLLHUP | Linux.LibC.EPOLLERR)) != 0 ? Interest.Write : 0);

    private Errno Control(int operation, int fd, ulong token, Interest interest)
    {
        int result;
        if (IsPacked)
        {
            var entry = new Linux.epoll_event_packed { events = EventsFor(interest), data = token };
            result = Linux.LibC.epoll_ctl(_epoll, operation, fd, &entry);
        }
        else
        {
            var entry = new Linux.epoll_event { events = EventsFor(interest), data = token };
            result = Linux.LibC.epoll_ctl(_epoll, operation, fd, &entry);
        }

        return result == 0 ? Errno.Success : Errno.Last;
    }
}
