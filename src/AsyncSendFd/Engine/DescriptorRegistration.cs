using System.Diagnostics;
using AsyncSendFd.Syscalls;

namespace AsyncSendFd.Engine;

/// <summary>
/// One descriptor number's registration with the engine: every call waiting on it, from any <see cref="System.Net.Sockets.Socket"/>
/// object over it, and what the kernel has armed. The kernel keeps one registration per descriptor (per descriptor and
/// filter for kqueue), so two Socket objects over one descriptor share this one, and an event wakes the waiters of both.
/// </summary>
/// <remarks>
/// <para>
/// A new generation starts each time the first waiter arrives, and the token armed with the kernel carries it, so a
/// late event for an earlier wait, or for an earlier file with the same descriptor number, never matches.
/// </para>
/// <para>
/// Every waiter is unlinked exactly once, under <see cref="_lock"/>, and whoever unlinks it completes it, outside
/// the lock. No reference on any socket is held between calls: the engine's scan ends the waits of a disposed socket.
/// </para>
/// </remarks>
internal sealed class DescriptorRegistration(ReadinessEngine engine, int fd)
{
    private readonly Lock _lock = new();
    private ReadinessWaiter? _waiters;
    private uint _generation;
    private Interest _armed;
    private bool _registered;

    public int Fd => fd;

    /// <summary>Whether any call waits here; read without the lock by the scan, which re-checks under it.</summary>
    public bool HasWaiters => Volatile.Read(ref _waiters) is not null;

    /// <summary>How many calls wait here in each direction, for the metrics.</summary>
    public (int Receives, int Sends) CountWaiters()
    {
        int receives = 0;
        int sends = 0;
        lock (_lock)
        {
            for (ReadinessWaiter? waiter = _waiters; waiter is not null; waiter = waiter.Next)
            {
                receives += waiter.Direction == Interest.Read ? 1 : 0;
                sends += waiter.Direction == Interest.Write ? 1 : 0;
            }
        }

        return (receives, sends);
    }

    /// <summary>The token of the current generation: the generation above the descriptor number.</summary>
    private ulong Token => ((ulong)_generation << 32) | (uint)fd;

    /// <summary>The generation an event's token carries.</summary>
    public static uint GenerationOf(ulong token) => (uint)(token >> 32);

    /// <summary>The descriptor number an event's token carries.</summary>
    public static int DescriptorOf(ulong token) => (int)(uint)token;

    /// <summary>
    /// Links <paramref name="waiter"/> and arms the kernel for every direction waited for. The caller holds a
    /// reference on the socket, so the descriptor number is the socket's for the length of this call.
    /// </summary>
    /// <returns><see cref="Errno.Success"/> while it waits; otherwise it was not linked, and the caller completes it.</returns>
    public Errno Add(ReadinessWaiter waiter, out bool canceled)
    {
        canceled = false;
        lock (_lock)
        {
            if (_waiters is null)
            {
                _generation = _generation == uint.MaxValue ? 1 : _generation + 1;
            }

            waiter.Next = _waiters;
            _waiters = waiter;
            waiter.LinkTo(this);
            if (waiter.CancelRequested)
            {
                Unlink(waiter);
                canceled = true;
                return Errno.Success;
            }

            // Armed again even when another waiter armed the same directions: that one's descriptor number may have
            // been closed and reused for this socket (a wrapper that does not own its descriptor is never told), and
            // the kernel registers the file, not the number. One epoll_ctl per wait.
            Errno armed = ArmLocked(WantedLocked());
            if (armed.IsSuccess && engine.HasFailed)
            {
                armed = engine.FailureErrno; // failed after the lookup: its sweep may have passed this registration
            }

            if (!armed.IsSuccess)
            {
                Unlink(waiter);
            }

            return armed;
        }
    }

    /// <summary>Unlinks <paramref name="waiter"/> if it still waits here (a cancellation, or a blocking call's timeout).</summary>
    /// <returns>Whether this call unlinked it, and so must complete it.</returns>
    public bool Withdraw(ReadinessWaiter waiter)
    {
        lock (_lock)
        {
            if (waiter.Registration != this)
            {
                return false;
            }

            Unlink(waiter);
            return true;
        }
    }

    /// <summary>An event for <paramref name="token"/>, on a poller thread.</summary>
    /// <returns>
    /// The waiters to wake, chained by <see cref="ReadinessWaiter.Next"/>, for the engine to complete with
    /// <see cref="Errno.Success"/>: those the event is for, and any left that could not be armed again, whose retry
    /// arms afresh and so reports the errno itself.
    /// </returns>
    public ReadinessWaiter? OnEvent(ulong token, Interest ready)
    {
        lock (_lock)
        {
            if (_waiters is null || GenerationOf(token) != _generation)
            {
                return null; // a late event for waits that have ended
            }

            _armed = engine.Backend.EventDisarmsAllDirections ? Interest.None : _armed & ~ready;
            ReadinessWaiter? woken = UnlinkWhere(ready, closedOnly: false);
            Interest wanted = WantedLocked();
            if ((wanted & ~_armed) != 0)
            {
                RearmLocked(ref woken);
            }

            return woken;
        }
    }

    /// <summary>The disposal scan: unlinks the waiters whose socket is closed.</summary>
    public ReadinessWaiter? TakeClosed()
    {
        lock (_lock)
        {
            return UnlinkWhere(Interest.Both, closedOnly: true);
        }
    }

    /// <summary>The engine failed: unlinks every waiter.</summary>
    public ReadinessWaiter? TakeAll()
    {
        lock (_lock)
        {
            return UnlinkWhere(Interest.Both, closedOnly: false);
        }
    }

    private Interest WantedLocked()
    {
        Interest wanted = Interest.None;
        for (ReadinessWaiter? w = _waiters; w is not null; w = w.Next)
        {
            wanted |= w.Direction;
        }

        return wanted;
    }

    private Errno ArmLocked(Interest wanted)
    {
        Errno armed = _registered ? engine.Backend.Reregister(fd, Token, wanted) : engine.Backend.Register(fd, Token, wanted);
        if (armed.IsSuccess)
        {
            _registered = true;
            _armed = wanted;
        }

        return armed;
    }

    /// <summary>
    /// Arms what the remaining waiters want, on the poller, under a reference on one of their sockets; a waiter whose
    /// socket is closed joins <paramref name="woken"/> (its retry reports the disposal), and so do all if arming fails
    /// (their retry arms again and reports the errno).
    /// </summary>
    private void RearmLocked(ref ReadinessWaiter? woken)
    {
        while (_waiters is { } candidate)
        {
            bool added = false;
            try
            {
                candidate.Socket.DangerousAddRef(ref added);
            }
            catch (ObjectDisposedException)
            {
                Unlink(candidate);
                candidate.Next = woken;
                woken = candidate;
                continue;
            }

            try
            {
                if (!ArmLocked(WantedLocked()).IsSuccess)
                {
                    woken = Append(woken, UnlinkWhere(Interest.Both, closedOnly: false));
                }

                return;
            }
            finally
            {
                candidate.Socket.DangerousRelease();
            }
        }
    }

    /// <summary>Unlinks the waiters for <paramref name="directions"/> (only those on a closed socket, if asked), returned as a chain.</summary>
    private ReadinessWaiter? UnlinkWhere(Interest directions, bool closedOnly)
    {
        ReadinessWaiter? taken = null;
        ReadinessWaiter? kept = null;
        for (ReadinessWaiter? current = _waiters, next; current is not null; current = next)
        {
            next = current.Next;
            if ((current.Direction & directions) != 0 && (!closedOnly || current.Socket.IsClosed))
            {
                current.LinkTo(null);
                current.Next = taken;
                taken = current;
            }
            else
            {
                current.Next = kept;
                kept = current;
            }
        }

        _waiters = kept;
        return taken;
    }

    private void Unlink(ReadinessWaiter waiter)
    {
        Debug.Assert(waiter.Registration == this, "only a linked waiter is unlinked");
        ref ReadinessWaiter? link = ref _waiters;
        while (link != waiter)
        {
            link = ref link!.Next;
        }

        link = waiter.Next;
        waiter.Next = null;
        waiter.LinkTo(null);
    }

    /// <summary>Puts every waiter of <paramref name="more"/> on <paramref name="chain"/>.</summary>
    private static ReadinessWaiter? Append(ReadinessWaiter? chain, ReadinessWaiter? more)
    {
        while (more is not null)
        {
            ReadinessWaiter? next = more.Next;
            more.Next = chain;
            chain = more;
            more = next;
        }

        return chain;
    }
}
