using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Runtime.Versioning;

namespace AsyncSendFd.Benchmarks.Chaos;

/// <summary>One call in flight (a send, a receive, or a Dispose) and the bounds it must end within.</summary>
[SupportedOSPlatform("linux")]
internal sealed class CallRecord(string what, Lane lane)
{
    private int _flagged;

    public string What { get; } = what;

    public Lane Lane { get; } = lane;

    /// <summary>The socket the call runs on: its disposal must end the call within a second.</summary>
    public Endpoint? Endpoint { get; init; }

    /// <summary>The other end: its close must end the call within two seconds (sends, and receives where the kernel reports end of stream).</summary>
    public Endpoint? Peer { get; init; }

    public bool IsReceive { get; init; }

    /// <summary>When positive, the call must end this many milliseconds after it started (a blocking call's timeout plus a second; a Dispose's second).</summary>
    public int DeadlineMs { get; init; }

    public ViolationKind? DeadlineKind { get; init; }

    public long StartedAt { get; } = Environment.TickCount64;

    /// <summary>How many calls the same way on the socket had ended when this one began.</summary>
    public int EndedBefore { get; set; }

    /// <summary>Since when the watchdog has seen data waiting in the socket while this receive waits; 0 when it saw none.</summary>
    public long DataSeenSince { get; set; }

    public bool IsFlagged => Volatile.Read(ref _flagged) != 0;

    /// <summary>One report per call, however many bounds it breaks.</summary>
    public bool TryFlag() => Interlocked.Exchange(ref _flagged, 1) == 0;
}

/// <summary>
/// Every call in flight, and the watchdog's pass over them: a call that outlives its socket's disposal, its peer's close or
/// its deadline, or a receive that sleeps while its socket holds data, is reported while it still runs (it may never return).
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class CallTracker(ChaosRound round)
{
    private const int DisposalBoundMs = 1000;
    private const int PeerCloseBoundMs = 2000;
    private const int NotWokenBoundMs = 3000;

    private readonly ConcurrentDictionary<CallRecord, byte> _inFlight = new();

    public ICollection<CallRecord> InFlight => _inFlight.Keys;

    public CallRecord Begin(CallRecord call)
    {
        call.EndedBefore = call.Endpoint?.CallsEnded(call.IsReceive) ?? 0;
        _inFlight[call] = 0;
        return call;
    }

    public void End(CallRecord call)
    {
        _inFlight.TryRemove(call, out _);
        call.Endpoint?.CountCallEnded(call.IsReceive);
        long took = Environment.TickCount64 - call.StartedAt;
        if (call.DeadlineMs > 0 && took > call.DeadlineMs && call.TryFlag())
        {
            round.Violation(call.DeadlineKind!, $"{call.What} took {took} ms (bound {call.DeadlineMs} ms){Context(call)}", call.Lane);
        }
    }

    public bool AnyOn(Endpoint endpoint) => _inFlight.Keys.Any(c => c.Endpoint == endpoint);

    /// <summary>The watchdog's pass.</summary>
    public void Inspect()
    {
        long now = Environment.TickCount64;
        foreach (CallRecord call in _inFlight.Keys)
        {
            if (call.IsFlagged)
            {
                continue;
            }

            // A call that began after the disposal or the close is measured from its start.
            long age = now - call.StartedAt;
            if (call.Endpoint is { DisposedAt: > 0 } endpoint && now - Math.Max(endpoint.DisposedAt, call.StartedAt) > DisposalBoundMs)
            {
                Flag(call, Violations.OutlivedDisposal, $"{call.What} still runs {now - endpoint.DisposedAt} ms after {endpoint} was disposed (started {age} ms ago)");
            }
            else if (call.Peer is { DisposedAt: > 0 } peer && now - Math.Max(peer.DisposedAt, call.StartedAt) > PeerCloseBoundMs)
            {
                Flag(call, Violations.OutlivedPeerClose, $"{call.What} still waits {now - peer.DisposedAt} ms after {peer} was closed (started {age} ms ago)");
            }
            else if (call.DeadlineMs > 0 && age > call.DeadlineMs)
            {
                Flag(call, call.DeadlineKind!, $"{call.What} still runs after {age} ms (bound {call.DeadlineMs} ms)");
            }
            else if (call.IsReceive && call.Endpoint is { IsDisposed: false } receiving)
            {
                WatchForData(call, receiving.Socket, now);
            }
        }
    }

    private void WatchForData(CallRecord call, Socket socket, long now)
    {
        int available;
        try
        {
            available = socket.Available;
        }
        catch (Exception e) when (e is ObjectDisposedException or SocketException)
        {
            return;
        }

        if (available == 0)
        {
            call.DataSeenSince = 0;
        }
        else if (call.DataSeenSince == 0)
        {
            call.DataSeenSince = now;
        }
        else if (now - call.DataSeenSince > NotWokenBoundMs)
        {
            Flag(call, Violations.NotWoken, $"{call.What} has waited {now - call.DataSeenSince} ms with {available} bytes readable (started {now - call.StartedAt} ms ago)");
        }
    }

    private void Flag(CallRecord call, ViolationKind kind, string detail)
    {
        if (call.TryFlag())
        {
            round.Violation(kind, detail + Context(call), call.Lane);
        }
    }

    /// <summary>
    /// What tells a library delay from a loaded machine: the calls the same way on the socket that ended while this one
    /// waited (it waited in line behind them) or still run, how late the watchdog's own thread woke, and how late the
    /// thread pool (where woken async calls continue) started queued work.
    /// </summary>
    private string Context(CallRecord call)
    {
        if (call.Endpoint is not { } endpoint)
        {
            return $" [meanwhile the watchdog woke up to {round.WorstLagSince(call.StartedAt)} ms late, the thread pool started work up to {round.WorstPoolLagSince(call.StartedAt)} ms late]";
        }

        int ended = endpoint.CallsEnded(call.IsReceive) - call.EndedBefore;
        int running = _inFlight.Keys.Count(c => c != call && c.Endpoint == endpoint && c.IsReceive == call.IsReceive);
        string way = call.IsReceive ? "receives" : "sends";
        return $" [meanwhile {ended} other {way} on {endpoint} ended and {running} still run; the watchdog woke up to "
            + $"{round.WorstLagSince(call.StartedAt)} ms late, the thread pool started work up to {round.WorstPoolLagSince(call.StartedAt)} ms late]";
    }
}
