using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using AsyncSendFd.Native.Interop.Unix;
using Darwin = AsyncSendFd.Native.Interop.Darwin;

namespace AsyncSendFd.Engine;

/// <summary>
/// kqueue, epoll's twin on macOS: the syscalls only. What the changes and events mean is in
/// <see cref="KqueueEvents"/>, which the tests run on Linux; this file cannot run here.
/// </summary>
[SupportedOSPlatform("macos")]
internal sealed unsafe class KqueueBackend : IReadinessBackend
{
    private const int Capacity = 256;

    private readonly int _kqueue;
    private readonly Darwin.kevent* _events;

    private KqueueBackend(int kqueue)
    {
        _kqueue = kqueue;
        _events = (Darwin.kevent*)NativeMemory.Alloc((nuint)(Capacity * sizeof(Darwin.kevent)));
    }

    /// <summary>Each direction has its own registration: an event leaves the other armed.</summary>
    public bool EventDisarmsAllDirections => false;

    /// <returns>0 and the backend, or the errno.</returns>
    public static int TryCreate(out KqueueBackend? backend)
    {
        backend = null;
        int kqueue = Darwin.LibC.kqueue();
        if (kqueue < 0)
        {
            return Marshal.GetLastPInvokeError();
        }

        // A kqueue is not inherited across fork, but its descriptor number would survive an exec without this.
        int flags = LibC.fcntl(kqueue, Darwin.LibC.F_GETFD, 0);
        Darwin.kevent wake = KqueueEvents.WakeRegistration();
        if (flags < 0 || LibC.fcntl(kqueue, Darwin.LibC.F_SETFD, flags | Darwin.LibC.FD_CLOEXEC) < 0
            || Darwin.LibC.kevent(kqueue, &wake, 1, null, 0, null) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            _ = LibC.close(kqueue);
            return errno;
        }

        backend = new KqueueBackend(kqueue);
        return 0;
    }

    public int Arm(int fd, ulong token, Interest interest, Interest added, ref bool known)
    {
        Darwin.kevent* changes = stackalloc Darwin.kevent[2];
        Darwin.kevent* receipts = stackalloc Darwin.kevent[2];
        int count = KqueueEvents.WriteChanges(fd, token, added, new Span<Darwin.kevent>(changes, 2));
        Darwin.timespec immediately = default;
        int received = Darwin.LibC.kevent(_kqueue, changes, count, receipts, count, &immediately);
        if (received < 0)
        {
            return Marshal.GetLastPInvokeError();
        }

        for (int i = 0; i < received; i++)
        {
            int errno = KqueueEvents.ErrnoOf(receipts[i]);
            if (errno != 0)
            {
                return errno;
            }
        }

        known = true;
        return 0;
    }

    public int Wait(Span<ReadinessEvent> events, int timeoutMilliseconds)
    {
        Darwin.timespec timeout = new()
        {
            tv_sec = timeoutMilliseconds / 1000,
            tv_nsec = timeoutMilliseconds % 1000 * 1_000_000,
        };
        int count = Darwin.LibC.kevent(_kqueue, null, 0, _events, Math.Min(events.Length, Capacity), timeoutMilliseconds < 0 ? null : &timeout);
        if (count < 0)
        {
            return -Marshal.GetLastPInvokeError();
        }

        int written = 0;
        for (int i = 0; i < count; i++)
        {
            if (KqueueEvents.TryDecode(_events[i], out ReadinessEvent decoded))
            {
                events[written++] = decoded;
            }
        }

        return written;
    }

    public void Wake()
    {
        Darwin.kevent trigger = KqueueEvents.WakeTrigger();
        _ = Darwin.LibC.kevent(_kqueue, &trigger, 1, null, 0, null);
    }

    public void Dispose()
    {
        _ = LibC.close(_kqueue);
        NativeMemory.Free(_events);
    }
}
