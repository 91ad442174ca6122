using AsyncSendFd.Diagnostics;
using AsyncSendFd.Syscalls;

namespace AsyncSendFd.Engine;

/// <summary>
/// One thread that waits on the kernel's readiness queue (epoll or kqueue) for every socket with a waiting call,
/// and wakes those calls. A registration and an event cost O(1) whatever the number of waiters: a table of
/// registrations indexed by the token's slot, nothing rebuilt per wake, nothing allocated per wait.
/// </summary>
/// <remarks>
/// <para>
/// Waking a call means handing its continuation to the thread pool (or, with <see cref="InlineCompletionsSwitch"/>,
/// running it here). Blocking calls wait on an event that this thread sets.
/// </para>
/// <para>
/// A waiting call holds no reference on its socket, so <see cref="System.Net.Sockets.Socket.Dispose()"/> closes it at
/// once, and the kernel may then drop the registration without an event. Every <see cref="ScanIntervalMilliseconds"/>
/// while calls wait, this thread looks for registrations whose socket handle is closed and ends their waits; the
/// retried call then throws <see cref="ObjectDisposedException"/>. An idle engine sleeps without a timeout.
/// </para>
/// </remarks>
internal sealed class ReadinessEngine
{
    /// <summary>How often waits are checked for disposed sockets: a disposed socket's waiting call ends within this.</summary>
    public const int ScanIntervalMilliseconds = 250;

    [ThreadStatic]
    private static bool t_isEngineThread;

    private readonly Lock _slotsLock = new();
    private readonly List<SocketReadiness> _closed = [];
    private SocketReadiness?[] _slots = new SocketReadiness?[64];
    private uint[] _generations = new uint[64];
    private int[] _free = new int[64];
    private int _freeCount;
    private int _used;
    private int _active;
    private long _allocations;
    private int _sleeping;
    private volatile int _failureErrno;

    public ReadinessEngine(IReadinessBackend backend, bool inlineCompletions)
    {
        Backend = backend;
        InlineCompletions = inlineCompletions;
        var thread = new Thread(Run) { IsBackground = true, Name = "AsyncSendFd readiness" };
        thread.UnsafeStart();
    }

    public IReadinessBackend Backend { get; }

    /// <summary>
    /// Refuses a blocking call on the readiness thread (a continuation run inline): it would wait for itself, and
    /// every other socket with it. Checked before the call takes its gate or sends a byte.
    /// </summary>
    /// <exception cref="InvalidOperationException">The calling thread is the readiness thread.</exception>
    public static void ThrowIfEngineThread()
    {
        if (t_isEngineThread)
        {
            throw new InvalidOperationException(
                "A blocking call cannot run on the readiness thread, which runs continuations inline when "
                + "ASYNCSENDFD_INLINE_COMPLETIONS is set: it would wait for itself. Use the async method there.");
        }
    }

    public bool InlineCompletions { get; }

    public bool HasFailed => _failureErrno != 0;

    /// <summary>The errno the engine's wait failed with; 0 while it runs.</summary>
    public int FailureErrno => _failureErrno;

    /// <summary>Registrations holding a token: waiting calls, counted per socket.</summary>
    public int ActiveRegistrations => Volatile.Read(ref _active);

    /// <summary>Calls waiting now in each direction (the <c>asyncsendfd.waits.active</c> instrument): a snapshot when it is read.</summary>
    public (int Receives, int Sends) CountWaits()
    {
        int receives = 0;
        int sends = 0;
        lock (_slotsLock)
        {
            for (int slot = 0; slot < _used; slot++)
            {
                Interest waiting = _slots[slot]?.WaitingFor ?? Interest.None;
                receives += (waiting & Interest.Read) != 0 ? 1 : 0;
                sends += (waiting & Interest.Write) != 0 ? 1 : 0;
            }
        }

        return (receives, sends);
    }

    /// <summary>Takes a slot for <paramref name="registration"/>; a token is never 0.</summary>
    /// <returns><see langword="false"/> when the engine has failed.</returns>
    public bool TryAllocate(SocketReadiness registration, out ulong token)
    {
        int slot;
        lock (_slotsLock)
        {
            if (HasFailed)
            {
                token = 0;
                return false;
            }

            slot = _freeCount > 0 ? _free[--_freeCount] : _used++;
            if (slot == _slots.Length)
            {
                Array.Resize(ref _generations, slot * 2);
                SocketReadiness?[] grown = new SocketReadiness?[slot * 2];
                _slots.CopyTo(grown, 0);
                Volatile.Write(ref _slots, grown);
            }

            uint generation = _generations[slot] == uint.MaxValue ? 1 : _generations[slot] + 1;
            _generations[slot] = generation;
            token = ((ulong)generation << 32) | (uint)slot;
            Volatile.Write(ref _slots[slot], registration);
            _allocations++;
        }

        // From idle to waiting: the thread sleeps without a timeout, and the disposal scan needs it to tick again.
        if (Interlocked.Increment(ref _active) == 1 && Interlocked.Exchange(ref _sleeping, 0) == 1)
        {
            Backend.Wake();
        }

        return true;
    }

    /// <summary>Gives a slot back; its generation makes any late event for the old token miss.</summary>
    public void Free(ulong token)
    {
        int slot = (int)(uint)token;
        lock (_slotsLock)
        {
            _slots[slot] = null;
            if (_freeCount == _free.Length)
            {
                Array.Resize(ref _free, _free.Length * 2);
            }

            _free[_freeCount++] = slot;
        }

        Interlocked.Decrement(ref _active);
    }

    private void Run()
    {
        t_isEngineThread = true;
        var events = new ReadinessEvent[256];
        long nextScan = Environment.TickCount64 + ScanIntervalMilliseconds;
        long allocationsAtLastScan = 0;
        bool idle = false;
        while (true)
        {
            int timeout = idle ? SleepTimeout() : (int)Math.Clamp(nextScan - Environment.TickCount64, 0, ScanIntervalMilliseconds);
            int count = Backend.Wait(events, timeout);
            Volatile.Write(ref _sleeping, 0);
            if (count < 0)
            {
                if (-count == Errno.EINTR)
                {
                    continue;
                }

                Fail(-count);
                return;
            }

            SocketReadiness?[] slots = Volatile.Read(ref _slots);
            for (int i = 0; i < count; i++)
            {
                ulong token = events[i].Token;
                int slot = (int)(uint)token;
                if (slot < slots.Length && Volatile.Read(ref slots[slot]) is { } registration)
                {
                    registration.OnEvent(token, events[i].Ready, this);
                }
            }

            long now = Environment.TickCount64;
            if (idle || now >= nextScan)
            {
                ScanForClosedSockets();
                nextScan = now + ScanIntervalMilliseconds;
                long allocations = Volatile.Read(ref _allocations);
                idle = ActiveRegistrations == 0 && allocations == allocationsAtLastScan;
                allocationsAtLastScan = allocations;
            }
        }
    }

    /// <summary>Sleeps for ever only if nothing waits: a registration that comes in between wakes the thread.</summary>
    private int SleepTimeout()
    {
        Interlocked.Exchange(ref _sleeping, 1);
        return ActiveRegistrations == 0 ? Timeout.Infinite : 0;
    }

    private void ScanForClosedSockets()
    {
        lock (_slotsLock)
        {
            for (int slot = 0; slot < _used; slot++)
            {
                if (_slots[slot] is { IsSocketClosed: true } registration)
                {
                    _closed.Add(registration);
                }
            }
        }

        foreach (SocketReadiness registration in _closed)
        {
            registration.OnSocketClosed();
        }

        _closed.Clear();
    }

    /// <summary>
    /// The kernel's wait failed for good: every waiting call ends with the errno, and the next wait starts a new
    /// engine. The old descriptors stay open, since a call arming right now may still use them.
    /// </summary>
    private void Fail(int errno)
    {
        AsyncSendFdMetrics.EngineWaitFailed(errno);
        List<SocketReadiness> waiting = [];
        lock (_slotsLock)
        {
            _failureErrno = errno;
            for (int slot = 0; slot < _used; slot++)
            {
                if (_slots[slot] is { } registration)
                {
                    waiting.Add(registration);
                }
            }
        }

        foreach (SocketReadiness registration in waiting)
        {
            registration.OnEngineFailed(this, errno);
        }
    }
}
