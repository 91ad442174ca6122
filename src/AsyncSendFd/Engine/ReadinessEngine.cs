using System.Diagnostics;
using AsyncSendFd.Diagnostics;
using AsyncSendFd.Syscalls;

namespace AsyncSendFd.Engine;

/// <summary>
/// A few poller threads that wait on the kernel's readiness queue (epoll or kqueue) for every descriptor with a
/// waiting call, and wake those calls. A registration and an event cost O(1) whatever the number of waiters: a table
/// of registrations indexed by descriptor number, nothing rebuilt per wake, nothing allocated per wait.
/// </summary>
/// <remarks>
/// <para>
/// <b>Where a woken call continues.</b> One poller at a time holds the kernel's wait; the others stand by. The holder
/// hands every call an event woke but the last to the thread pool and runs the last one's continuation itself, as
/// tokio's worker runs the task its reactor woke, then returns to the kernel's wait: a reply that arrived meanwhile is
/// there, and no other thread had to wake. A continuation that blocks or runs long loses the wait to a standby poller
/// (or a new one, up to <see cref="MaxPollers"/>), as Go's runtime retakes a processor from a thread stuck in a
/// syscall: at once when it makes a blocking call of this library, otherwise within two ticks of the
/// <see cref="ContinuationWatchdog"/>. A blocking call from a continuation therefore works, and pollers started for a
/// burst of blocking continuations end once they have stood by idle for <see cref="IdlePollerMilliseconds"/>.
/// </para>
/// <para>
/// A waiting call holds no reference on its socket, so <see cref="System.Net.Sockets.Socket.Dispose()"/> closes it at
/// once, and the kernel may then drop the registration without an event. Every <see cref="ScanIntervalMilliseconds"/>
/// while calls wait, a scanning thread looks for waiters whose socket handle is closed and ends their waits; the
/// retried call then throws <see cref="ObjectDisposedException"/>. The thread is the engine's own, not a timer on the
/// thread pool, so a starved pool does not keep a blocking call from seeing its socket's disposal; it parks while
/// nothing waits. The same scan retries a hand-off that found no poller standing by and could not start one.
/// </para>
/// </remarks>
internal sealed class ReadinessEngine
{
    /// <summary>How often waits are checked for disposed sockets: a disposed socket's waiting call ends within this.</summary>
    public const int ScanIntervalMilliseconds = 250;

    /// <summary>The most poller threads an engine runs, however many continuations block on them.</summary>
    public const int MaxPollers = 128;

    /// <summary>How long a poller beyond the engine's first few stands by for the kernel's wait before it ends.</summary>
    public const int IdlePollerMilliseconds = 5_000;

    private const int EventsPerWait = 64;

    [ThreadStatic]
    private static ReadinessEngine? t_pollerOf;

    [ThreadStatic]
    private static long t_inlineRun;

    private readonly Lock _tableLock = new();
    private readonly Parking _scan = new();
    private readonly SemaphoreSlim _turns = new(0);
    private readonly ContinuationWatchdog? _watchdog;
    private readonly bool _alwaysInline;
    private readonly int _basePollers;
    private readonly Action<Thread> _startThread;
    private DescriptorRegistration?[] _registrations = new DescriptorRegistration?[256];
    private volatile bool _stopped;
    private int _standby;
    private long _runs;
    private long _inlineRun;
    private int _pollers;
    private volatile int _failureErrno;

    /// <param name="backend">The kernel's queue; disposed here if the engine's threads cannot start.</param>
    /// <param name="pollers">How many poller threads run for good; more start while continuations hold these.</param>
    /// <param name="alwaysInline">
    /// The opt-in: no watchdog, so a continuation keeps the kernel's wait however long it runs unless it makes a blocking
    /// call of this library; and no thread pool when <see cref="MaxPollers"/> pollers are held.
    /// </param>
    /// <param name="startThread">Starts the engine's threads (pollers, the disposal scan, the watchdog); a test's seam.</param>
    /// <exception cref="OutOfMemoryException">A thread could not start; the backend was disposed.</exception>
    public ReadinessEngine(IReadinessBackend backend, int pollers, bool alwaysInline, Action<Thread>? startThread = null)
    {
        Debug.Assert(pollers is >= 1 and <= MaxPollers, "an engine needs a poller");
        Backend = backend;
        _alwaysInline = alwaysInline;
        _basePollers = pollers;
        _startThread = startThread ?? (static thread => thread.UnsafeStart());
        _watchdog = alwaysInline ? null : new ContinuationWatchdog(this);
        try
        {
            _startThread(new Thread(ScanWhileCallsWait) { IsBackground = true, Name = "AsyncSendFd disposal scan" });
            if (_watchdog is not null)
            {
                _startThread(_watchdog.CreateThread());
            }

            StartPoller(holding: true);
        }
        catch
        {
            _stopped = true;
            _scan.Release();
            _watchdog?.Stop();
            backend.Dispose();
            throw;
        }

        for (int i = 1; i < pollers && TryStartPoller(); i++)
        {
        }
    }

    public IReadinessBackend Backend { get; }

    public bool HasFailed => _failureErrno != 0;

    /// <summary>Whether the engine's threads are to end: it failed, or never started.</summary>
    public bool HasEnded => _stopped || HasFailed;

    /// <summary>The inline run the holder of the kernel's wait is in now, 0 if none; the watchdog's view.</summary>
    public long InlineRun => Volatile.Read(ref _inlineRun);

    /// <summary>How many inline runs have begun.</summary>
    public long InlineRuns => Volatile.Read(ref _runs);

    /// <summary>The poller threads running now: the first few, and those started while continuations hold them.</summary>
    public int Pollers => Volatile.Read(ref _pollers);

    /// <summary>The errno the engine's wait failed with; <see cref="Errno.Success"/> while it runs.</summary>
    public Errno FailureErrno => new(_failureErrno);

    /// <summary>Calls waiting now in each direction (the <c>asyncsendfd.waits.active</c> instrument): a snapshot when it is read.</summary>
    public (int Receives, int Sends) CountWaits()
    {
        int receives = 0;
        int sends = 0;
        foreach (DescriptorRegistration? registration in Volatile.Read(ref _registrations))
        {
            if (registration is { HasWaiters: true })
            {
                (int registrationReceives, int registrationSends) = registration.CountWaiters();
                receives += registrationReceives;
                sends += registrationSends;
            }
        }

        return (receives, sends);
    }

    /// <summary>Links <paramref name="waiter"/> into <paramref name="fd"/>'s registration, which arms the kernel, and wakes the disposal scan.</summary>
    /// <returns><see cref="Errno.Success"/> while it waits; otherwise the caller completes it.</returns>
    public Errno Add(ReadinessWaiter waiter, int fd, out bool canceled)
    {
        Errno armed = RegistrationFor(fd).Add(waiter, out canceled);

        if (armed.IsSuccess)
        {
            _scan.Unpark(); // after the link's full fence
        }

        return armed;
    }

    private DescriptorRegistration RegistrationFor(int fd)
    {
        DescriptorRegistration?[] table = Volatile.Read(ref _registrations);
        if ((uint)fd < (uint)table.Length && Volatile.Read(ref table[fd]) is { } found)
        {
            return found;
        }

        lock (_tableLock)
        {
            table = _registrations;
            if (fd >= table.Length)
            {
                Array.Resize(ref table, Math.Max(fd + 1, table.Length * 2));
                Volatile.Write(ref _registrations, table);
            }

            return table[fd] ??= new DescriptorRegistration(this, fd);
        }
    }

    /// <summary>
    /// A blocking call of this library is about to wait: if its thread runs a continuation while it holds the kernel's
    /// wait, the wait goes to another poller first, since the call may need it to wake.
    /// </summary>
    public static void BeforeBlockingWait()
    {
        if (t_inlineRun != 0)
        {
            t_pollerOf!.TryHandOff(t_inlineRun);
            t_inlineRun = 0;
        }
    }

    /// <summary>Hands the kernel's wait to a standby poller, or a new one, while inline run <paramref name="run"/> goes on.</summary>
    public void TryHandOff(long run)
    {
        if (Interlocked.CompareExchange(ref _inlineRun, 0, run) != run)
        {
            return; // it ended, or was handed off already
        }

        _turns.Release();
        if (Volatile.Read(ref _standby) == 0)
        {
            _ = TryStartPoller(); // it takes the released turn; if none can start, the disposal scan tries again
        }
    }

    private void Poll(bool holding)
    {
        t_pollerOf = this;
        var events = new ReadinessEvent[EventsPerWait];
        while (!HasFailed)
        {
            if (!holding && !AwaitTurn())
            {
                return;
            }

            holding = true;
            Errno errno = Backend.Wait(events, Timeout.Infinite, out int count);
            if (!errno.IsSuccess && errno != Errno.EINTR)
            {
                Fail(errno);
                break;
            }

            // Every call woken but the last is handed to the thread pool before the last one runs here.
            ReadinessWaiter? last = null;
            DescriptorRegistration?[] table = Volatile.Read(ref _registrations);
            for (int i = 0; i < count; i++)
            {
                int fd = DescriptorRegistration.DescriptorOf(events[i].Token);
                if ((uint)fd < (uint)table.Length && Volatile.Read(ref table[fd]) is { } registration)
                {
                    for (ReadinessWaiter? woken = registration.OnEvent(events[i].Token, events[i].Ready), next; woken is not null; woken = next)
                    {
                        next = woken.Next;
                        woken.Next = null;
                        last?.Complete(Errno.Success, inline: false);
                        last = woken;
                    }
                }
            }

            if (last is null)
            {
                continue;
            }

            if (_alwaysInline || Volatile.Read(ref _standby) > 0 || Volatile.Read(ref _pollers) < MaxPollers)
            {
                holding = RunInline(last);
            }
            else
            {
                last.Complete(Errno.Success, inline: false); // no poller could take the wait over
            }
        }

        Interlocked.Decrement(ref _pollers);
    }

    /// <summary>Runs a woken call's continuation while holding the kernel's wait.</summary>
    /// <returns>Whether this poller still holds it: false when the run was handed off meanwhile.</returns>
    private bool RunInline(ReadinessWaiter woken)
    {
        Debug.Assert(t_pollerOf == this && t_inlineRun == 0, "only a poller of this engine, between runs, holds its wait");
        long run = _runs + 1; // only the holder writes it
        Volatile.Write(ref _runs, run);
        Interlocked.Exchange(ref _inlineRun, run); // a full fence before the watchdog's flag is read
        _watchdog?.OnRunStarted();
        t_inlineRun = run;
        woken.Complete(Errno.Success, inline: true);
        t_inlineRun = 0;
        return Interlocked.CompareExchange(ref _inlineRun, 0, run) == run;
    }

    /// <summary>Stands by until the kernel's wait is handed to this poller.</summary>
    /// <returns>True with the wait; false when this poller ends (it retired, or the engine failed).</returns>
    private bool AwaitTurn()
    {
        while (true)
        {
            Interlocked.Increment(ref _standby);
            bool turn = _turns.Wait(Volatile.Read(ref _pollers) > _basePollers ? IdlePollerMilliseconds : Timeout.Infinite);
            Interlocked.Decrement(ref _standby);
            if (HasFailed)
            {
                Interlocked.Decrement(ref _pollers);
                return false;
            }

            // A turn released as the wait timed out, by one that saw this poller still standing by, is taken, not lost.
            if (turn || _turns.Wait(0))
            {
                return true;
            }

            if (TryRetire())
            {
                return false;
            }
        }
    }

    private void StartPoller(bool holding)
    {
        Interlocked.Increment(ref _pollers);
        try
        {
            _startThread(new Thread(holding ? PollHolding : PollStandingBy) { IsBackground = true, Name = "AsyncSendFd readiness" });
        }
        catch
        {
            Interlocked.Decrement(ref _pollers);
            throw;
        }
    }

    private void PollHolding() => Poll(holding: true);

    private void PollStandingBy() => Poll(holding: false);

    /// <summary>Starts one more standby poller, unless there are <see cref="MaxPollers"/> or the thread cannot start.</summary>
    private bool TryStartPoller()
    {
        if (Volatile.Read(ref _pollers) >= MaxPollers)
        {
            return false;
        }

        try
        {
            StartPoller(holding: false);
            return true;
        }
        catch (OutOfMemoryException)
        {
            return false;
        }
    }

    /// <summary>An idle poller beyond the first few ends.</summary>
    private bool TryRetire()
    {
        int pollers = Volatile.Read(ref _pollers);
        while (pollers > _basePollers)
        {
            int seen = Interlocked.CompareExchange(ref _pollers, pollers - 1, pollers);
            if (seen == pollers)
            {
                return true;
            }

            pollers = seen;
        }

        return false;
    }

    /// <summary>The scanning thread: a scan per interval while calls wait, parked after a few scans that found none.</summary>
    private void ScanWhileCallsWait()
    {
        int idleScans = 0;
        while (!HasEnded)
        {
            _scan.WaitWhileParked();
            if (HasEnded)
            {
                break;
            }

            Thread.Sleep(ScanIntervalMilliseconds);
            TakeUpAnUntakenTurn();
            if (EndWaitsOfClosedSockets())
            {
                idleScans = 0;
            }
            else if (++idleScans >= 4)
            {
                idleScans = 0;
                _scan.Park();
                if (Array.Exists(Volatile.Read(ref _registrations), static r => r is { HasWaiters: true }))
                {
                    _scan.Unpark(); // a wait that linked before the park
                }
            }
        }
    }

    /// <summary>
    /// A hand-off that found no poller standing by and could not start one (no thread could be created) left the
    /// kernel's wait to nobody; while calls wait, each scan tries again, since every poller may be held by a continuation
    /// that only the kernel's wait can wake.
    /// </summary>
    private void TakeUpAnUntakenTurn()
    {
        if (_turns.CurrentCount > 0 && Volatile.Read(ref _standby) == 0)
        {
            _ = TryStartPoller();
        }
    }

    /// <summary>Ends the waits of disposed sockets.</summary>
    /// <returns>Whether any call was waiting.</returns>
    private bool EndWaitsOfClosedSockets()
    {
        bool anyWaiting = false;
        foreach (DescriptorRegistration? registration in Volatile.Read(ref _registrations))
        {
            if (registration is { HasWaiters: true })
            {
                anyWaiting = true;
                CompleteAll(registration.TakeClosed(), Errno.Success);
            }
        }

        return anyWaiting;
    }

    /// <summary>
    /// The kernel's wait failed for good: every waiting call ends with the errno, the pollers stop, and the next wait
    /// starts a new engine. The backend stays open, since a call arming right now may still use it.
    /// </summary>
    private void Fail(Errno errno)
    {
        if (Interlocked.CompareExchange(ref _failureErrno, errno.Value, 0) == 0)
        {
            AsyncSendFdMetrics.EngineWaitFailed(errno); // once per engine, though every poller's wait may fail
        }

        // Set before the sweep takes each registration's lock: an arming call either is swept or sees the failure.
        _failureErrno = errno.Value;

        foreach (DescriptorRegistration? registration in Volatile.Read(ref _registrations))
        {
            if (registration is not null)
            {
                CompleteAll(registration.TakeAll(), errno);
            }
        }

        _scan.Release(); // the scanner, the watchdog and the standby pollers end with the engine
        _watchdog?.Stop();
        _turns.Release(MaxPollers);
    }

    private static void CompleteAll(ReadinessWaiter? chain, Errno outcome)
    {
        while (chain is not null)
        {
            ReadinessWaiter? next = chain.Next;
            chain.Next = null;
            chain.Complete(outcome, inline: false);
            chain = next;
        }
    }
}
