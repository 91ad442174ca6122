using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using AsyncSendFd.Native.Interop.Unix;
using AsyncSendFd.Syscalls;
using Darwin = AsyncSendFd.Native.Interop.Darwin;

namespace AsyncSendFd.Engine;

/// <summary>
/// kqueue, epoll's twin on macOS: the kevent(2) calls only. What the changes and events mean is in
/// <see cref="KqueueEvents"/>, whose tests run on Linux; this file runs only on macOS.
/// </summary>
[SupportedOSPlatform("macos")]
internal sealed unsafe class KqueueBackend : IReadinessBackend
{
    private const int Capacity = 64;

    private readonly int _kqueue;

    private KqueueBackend(int kqueue) => _kqueue = kqueue;

    /// <summary>Each direction has its own registration: an event leaves the other armed.</summary>
    public bool EventDisarmsAllDirections => false;

    /// <summary>Creates the kqueue, close-on-exec.</summary>
    public static Errno TryCreate(out KqueueBackend? backend)
    {
        backend = null;
        int kqueue = Darwin.LibC.kqueue();
        if (kqueue < 0)
        {
            return Errno.Last;
        }

        // A kqueue is not inherited across fork, but its descriptor number would survive an exec without this.
        int flags = LibC.fcntl(kqueue, Darwin.LibC.F_GETFD, 0);
        if (flags < 0 || LibC.fcntl(kqueue, Darwin.LibC.F_SETFD, flags | Darwin.LibC.FD_CLOEXEC) < 0)
        {
            Errno failed = Errno.Last;
            _ = LibC.close(kqueue);
            return failed;
        }

        backend = new KqueueBackend(kqueue);
        return Errno.Success;
    }

    // EV_ADD creates or re-arms a filter alike, so both verbs are one change list.
    public Errno Register(int fd, ulong token, Interest interest) => Arm(fd, token, interest);

    public Errno Reregister(int fd, ulong token, Interest interest) => Arm(fd, token, interest);

    public Errno Wait(Span<ReadinessEvent> events, int timeoutMilliseconds, out int count)
    {
        int capacity = Math.Min(events.Length, Capacity);
        Darwin.kevent* reported = stackalloc Darwin.kevent[capacity];
        Darwin.timespec timeout = new()
        {
            tv_sec = timeoutMilliseconds / 1000,
            tv_nsec = timeoutMilliseconds % 1000 * 1_000_000,
        };
        int result = Darwin.LibC.kevent(_kqueue, null, 0, reported, capacity, timeoutMilliseconds < 0 ? null : &timeout);
        count = 0;
        for (int i = 0; i < result; i++)
        {
            if (KqueueEvents.TryDecode(reported[i], out ReadinessEvent decoded))
            {
                events[count++] = decoded;
            }
        }

        return result >= 0 ? Errno.Success : Errno.Last;
    }

    public void Dispose() => _ = LibC.close(_kqueue);

    private Errno Arm(int fd, ulong token, Interest interest)
    {
        Darwin.kevent* changes = stackalloc Darwin.kevent[2];
        Darwin.kevent* receipts = stackalloc Darwin.kevent[2];
        int count = KqueueEvents.WriteChanges(fd, token, interest, new Span<Darwin.kevent>(changes, 2));
        Darwin.timespec immediately = default;
        int received = Darwin.LibC.kevent(_kqueue, changes, count, receipts, count, &immediately);
        if (received < 0)
        {
            return Errno.Last;
        }

        for (int i = 0; i < received; i++)
        {
            int errno = KqueueEvents.ErrnoOf(receipts[i]);
            if (errno != 0)
            {
                return new Errno(errno);
            }
        }

        return Errno.Success;
    }
}
