using System.Runtime.InteropServices;
using AsyncSendFd.Syscalls;

namespace AsyncSendFd.Engine;

/// <summary>
/// One socket's registration with the engine: its two waiters, the directions waited for, and the token the
/// kernel reports them with. It holds no reference on the socket between syscalls, so disposing the socket never
/// waits for a waiting call; the engine notices the disposal and ends the wait.
/// </summary>
/// <remarks>
/// The token is taken from the engine's table while some direction is waited for and given back when none is,
/// with a new generation each time, so a late event for an earlier wait, or for an earlier socket with the same
/// descriptor number, never matches.
/// </remarks>
internal sealed class SocketReadiness
{
    private readonly Lock _lock = new();
    private readonly SafeHandle _socket;
    private readonly EngineHost _host;
    private ReadinessEngine? _engine;
    private ulong _token;
    private Interest _interest;
    private bool _knownToEngine;

    public SocketReadiness(SafeHandle socket, EngineHost host)
    {
        _socket = socket;
        _host = host;
        Readable = new ReadinessWaiter(this, Interest.Read);
        Writable = new ReadinessWaiter(this, Interest.Write);
    }

    public ReadinessWaiter Readable { get; }

    public ReadinessWaiter Writable { get; }

    /// <summary>The directions calls wait for now, read without the lock: a snapshot for the metrics.</summary>
    public Interest WaitingFor => _interest;

    /// <summary>Whether the socket was disposed; read by the engine's periodic scan.</summary>
    public bool IsSocketClosed => _socket.IsClosed;

    /// <summary>
    /// Starts waiting until <paramref name="fd"/> is worth retrying in <paramref name="direction"/>. The caller holds
    /// a reference on the socket for this call only; it awaits the result after releasing it.
    /// </summary>
    /// <returns><see cref="ReadinessWaiter.Ready"/> or an errno; cancellation throws <see cref="OperationCanceledException"/>.</returns>
    public ValueTask<int> WaitAsync(Interest direction, int fd, CancellationToken cancellationToken)
    {
        ReadinessWaiter waiter = WaiterFor(direction);
        waiter.Reset(blocking: false, cancellationToken);
        Arm(waiter, fd);
        return waiter.Task;
    }

    /// <summary>Arms a blocking wait; the caller then releases its reference and calls <see cref="WaitBlocking"/>.</summary>
    /// <exception cref="InvalidOperationException">Called from a continuation that runs on the engine's thread.</exception>
    public void ArmBlocking(Interest direction, int fd)
    {
        ReadinessEngine.ThrowIfEngineThread(); // the loops check first; this guards any other caller
        ReadinessWaiter waiter = WaiterFor(direction);
        waiter.Reset(blocking: true, default);
        Arm(waiter, fd);
    }

    /// <summary>Blocks until the wait armed by <see cref="ArmBlocking"/> ends.</summary>
    /// <returns><see cref="ReadinessWaiter.Ready"/>, an errno, or <see cref="ReadinessWaiter.TimedOut"/>.</returns>
    public int WaitBlocking(Interest direction, int timeoutMilliseconds)
    {
        ReadinessWaiter waiter = WaiterFor(direction);
        if (waiter.WaitBlocking(timeoutMilliseconds) is int outcome)
        {
            return outcome;
        }

        // Whoever takes the direction out of the interest completes the wait: if an event won, take its outcome.
        return TryWithdraw(waiter) ? ReadinessWaiter.TimedOut : waiter.WaitBlocking(Timeout.Infinite)!.Value;
    }

    /// <summary>The cancellation callback of an async wait.</summary>
    public void Cancel(ReadinessWaiter waiter)
    {
        bool won;
        lock (_lock)
        {
            waiter.CancelRequested = true;
            won = TakeLocked(waiter.Direction) != Interest.None;
        }

        if (won)
        {
            // Never inline: the canceling thread is the caller's, and it may hold locks of its own.
            waiter.CompleteCanceled(runInline: false);
        }
    }

    /// <summary>An event for <paramref name="token"/>, on the engine's thread.</summary>
    public void OnEvent(ulong token, Interest ready, ReadinessEngine engine)
    {
        Interest completed;
        Interest failed = Interest.None;
        int errno = 0;
        lock (_lock)
        {
            if (_token != token)
            {
                return; // a late event for a wait that has ended
            }

            completed = TakeLocked(ready);
            if (_interest != Interest.None && engine.Backend.EventDisarmsAllDirections)
            {
                // epoll disarmed the whole descriptor: arm what is still waited for, if the socket is still ours.
                errno = Rearm(engine);
                if (errno != 0)
                {
                    failed = TakeLocked(Interest.Both);
                }
            }
        }

        Complete(completed, ReadinessWaiter.Ready, engine.InlineCompletions);
        Complete(failed, errno < 0 ? ReadinessWaiter.Ready : errno, engine.InlineCompletions);
    }

    /// <summary>The engine's scan found the socket disposed: every wait ends, and the retried call reports the disposal.</summary>
    public void OnSocketClosed()
    {
        Interest completed;
        lock (_lock)
        {
            completed = TakeLocked(Interest.Both);
        }

        Complete(completed, ReadinessWaiter.Ready, runInline: false);
    }

    /// <summary>The engine failed: every wait it holds ends with <paramref name="errno"/>.</summary>
    public void OnEngineFailed(ReadinessEngine engine, int errno)
    {
        Interest failed;
        lock (_lock)
        {
            failed = _engine == engine ? TakeLocked(Interest.Both) : Interest.None;
        }

        Complete(failed, errno, runInline: false);
    }

    private ReadinessWaiter WaiterFor(Interest direction) => direction == Interest.Read ? Readable : Writable;

    private void Arm(ReadinessWaiter waiter, int fd)
    {
        int errno = _host.TryGetEngine(out ReadinessEngine? current);
        bool canceled = false;
        Interest orphaned = Interest.None;
        int orphanedErrno = 0;
        lock (_lock)
        {
            if (waiter.CancelRequested)
            {
                canceled = true;
            }
            else if (errno == 0)
            {
                if (_interest != Interest.None && _engine != current && _engine!.HasFailed)
                {
                    // The other direction waits on a failed engine whose sweep has not reached it yet: end it now
                    // with that engine's errno, and start this wait afresh on the running engine.
                    orphanedErrno = _engine.FailureErrno;
                    orphaned = TakeLocked(Interest.Both);
                }

                errno = ArmLocked(waiter.Direction, fd, current!);
            }
        }

        Complete(orphaned, orphanedErrno, runInline: false);

        if (canceled)
        {
            waiter.CompleteCanceled(runInline: true); // nothing awaits it yet
        }
        else if (errno != 0)
        {
            waiter.Complete(errno, runInline: true);
        }
    }

    private int ArmLocked(Interest direction, int fd, ReadinessEngine current)
    {
        if (_interest == Interest.None)
        {
            if (_engine != current)
            {
                _engine = current;
                _knownToEngine = false;
            }

            if (!current.TryAllocate(this, out _token))
            {
                return current.FailureErrno;
            }
        }

        // While the other direction waits, this one joins its engine and token.
        ReadinessEngine engine = _engine!;
        _interest |= direction;
        int errno = engine.Backend.Arm(fd, _token, _interest, direction, ref _knownToEngine);
        if (errno == 0 && engine.HasFailed)
        {
            errno = engine.FailureErrno; // failed after we took the token: its sweep may have missed us
        }

        if (errno != 0)
        {
            _ = TakeLocked(direction);
        }

        return errno;
    }

    /// <returns>0, the errno of a failed arm, or -1 when the socket was disposed.</returns>
    private int Rearm(ReadinessEngine engine)
    {
        HandleLease lease;
        try
        {
            lease = HandleLease.Of(_socket);
        }
        catch (ObjectDisposedException)
        {
            return -1;
        }

        try
        {
            return engine.Backend.Arm(lease.Descriptor, _token, _interest, Interest.None, ref _knownToEngine);
        }
        finally
        {
            lease.Release();
        }
    }

    /// <summary>Takes directions out of the interest; the caller completes their waiters. Gives the token back when none is left.</summary>
    private Interest TakeLocked(Interest directions)
    {
        Interest taken = _interest & directions;
        _interest &= ~taken;
        if (taken != Interest.None && _interest == Interest.None)
        {
            _engine!.Free(_token);
            _token = 0;
        }

        return taken;
    }

    private bool TryWithdraw(ReadinessWaiter waiter)
    {
        lock (_lock)
        {
            return TakeLocked(waiter.Direction) != Interest.None;
        }
    }

    private void Complete(Interest directions, int outcome, bool runInline)
    {
        if ((directions & Interest.Read) != 0)
        {
            Readable.Complete(outcome, runInline);
        }

        if ((directions & Interest.Write) != 0)
        {
            Writable.Complete(outcome, runInline);
        }
    }
}
