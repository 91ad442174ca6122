using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Runtime.Versioning;

namespace AsyncSendFd.Benchmarks.Chaos;

/// <summary>What a round leaves for the runner to report.</summary>
internal sealed record RoundResult(int Lanes, int Abandoned, long ChaosMs, long DrainMs);

/// <summary>
/// One round: lanes of every kind with their senders and receivers, the monkey injecting faults, the watchdog; then a
/// drain, the disposal of everything, and the accounting of every message sent.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class ChaosRound
{
    private const int SocketTokensPerRound = 3000; // each keeps its probe peer open until the round ends

    private static readonly (LaneKind Kind, int Count)[] InitialLanes =
    [
        (LaneKind.StreamSingles, 2), (LaneKind.StreamBatches, 3), (LaneKind.StreamFrames, 3),
        (LaneKind.Datagram, 3), (LaneKind.Seqpacket, 3), (LaneKind.DatagramTo, 1),
    ];

    private readonly ViolationLog _violations;
    private readonly Random _rng;
    private readonly ConcurrentDictionary<int, Message> _messages = new();
    private readonly List<Lane> _lanes = [];
    private readonly ConcurrentQueue<(Lane Lane, bool Sender, Task Done)> _workers = new();
    private readonly List<(long Start, long End)> _squeezes = [];
    private readonly CancellationTokenSource _chaosOver = new();
    private readonly int _targetLanes;
    private readonly ConcurrentQueue<(long At, long Lag)> _lags = new();
    private readonly ConcurrentQueue<(long At, long Lag)> _poolLags = new();
    private long _squeezeOpenSince;
    private int _nextMessageId;
    private int _nextLaneId;
    private int _socketTokens;

    public ChaosRound(int number, Fault faults, ChaosCounters counters, ViolationLog violations, Random rng)
    {
        Number = number;
        Faults = faults;
        Counters = counters;
        _violations = violations;
        _rng = rng;
        Tokens = new TokenRegistry(number);
        Calls = new CallTracker(this);
        Disposer = new Disposer(this);
        _targetLanes = InitialLanes.Sum(l => l.Count);
    }

    public int Number { get; }

    /// <summary>The faults this round injects.</summary>
    public Fault Faults { get; }

    public bool Injects(Fault fault) => (Faults & fault) != 0;

    public ChaosCounters Counters { get; }

    public TokenRegistry Tokens { get; }

    public CallTracker Calls { get; }

    public Disposer Disposer { get; }

    public bool ChaosOver => _chaosOver.IsCancellationRequested;

    /// <summary>Reports a violation; with a lane, its last events follow, to explain it.</summary>
    public void Violation(ViolationKind kind, string detail, Lane? lane = null) =>
        _violations.Report(
            kind,
            lane is null ? $"round {Number}: {detail}" : $"round {Number}: {detail}\n      {lane}{(lane.HadTwin ? ", which had a second Socket receiving on its descriptor," : "")} events: {lane.Log.Recent()}",
            lane?.HadTwin == true);

    public bool MaySendSocket() => Interlocked.Increment(ref _socketTokens) <= SocketTokensPerRound;

    public Message Register(Lane lane, MessageShape shape, Token[] tokens, int dataLength)
    {
        var message = new Message(Interlocked.Increment(ref _nextMessageId), lane, shape, tokens, dataLength);
        foreach (Token token in tokens)
        {
            token.Message = message;
        }

        _messages[message.Id] = message;
        return message;
    }

    public Message? FindMessage(int id) => _messages.GetValueOrDefault(id);

    /// <summary>Whether the process was at its descriptor limit at some moment since <paramref name="since"/>.</summary>
    public bool SqueezedDuring(long since)
    {
        lock (_squeezes)
        {
            return _squeezeOpenSince != 0 || _squeezes.Any(s => s.End >= since);
        }
    }

    public async Task<RoundResult> RunAsync(TimeSpan chaos)
    {
        foreach ((LaneKind kind, int count) in InitialLanes)
        {
            for (int i = 0; i < count; i++)
            {
                AddLane(kind);
            }
        }

        // The monkey and the watchdog keep their own threads: the pool is as busy as the chaos makes it, and their timing matters.
        var watchdogStop = new CancellationTokenSource();
        Task watchdog = RunOnThread("chaos watchdog", () => Watchdog(watchdogStop.Token));
        Task monkey = RunOnThread("chaos monkey", () => Monkey(new Random(_rng.Next())));
        long started = Environment.TickCount64;
        await Task.Delay(chaos).ConfigureAwait(false);
        _chaosOver.Cancel();
        await monkey.ConfigureAwait(false);
        long drainStarted = Environment.TickCount64;
        int abandoned = await DrainAndCloseAsync().ConfigureAwait(false);
        long drained = Environment.TickCount64;
        watchdogStop.Cancel();
        await watchdog.ConfigureAwait(false);
        watchdogStop.Dispose();
        _chaosOver.Dispose(); // abandoned workers only read IsCancellationRequested, which a disposed source still answers
        Calls.Inspect();
        foreach (CallRecord call in Calls.InFlight.Where(c => !c.IsFlagged))
        {
            Violation(Violations.Hung, $"{call.What} never returned ({Environment.TickCount64 - call.StartedAt} ms)", call.Lane);
        }

        Tokens.DisposeAll();
        Account();
        return new RoundResult(_lanes.Count, abandoned, drainStarted - started, drained - drainStarted);
    }

    /// <summary>Closes a lane's receiving end: its twin first, whose calls must end before the descriptor number is freed.</summary>
    public void CloseReceiver(Lane lane)
    {
        if (!lane.Receiver.TryClaimDisposal())
        {
            return;
        }

        Disposer.Start($"close {lane} receiver", () =>
        {
            if (lane.BeginReceiverClose() is { } twin)
            {
                if (twin.TryClaimDisposal())
                {
                    Disposer.Timed($"Dispose of {twin} socket", lane, twin.DisposeNow);
                }

                for (long until = Environment.TickCount64 + 1500; Calls.AnyOn(twin) && Environment.TickCount64 < until;)
                {
                    Thread.Sleep(10);
                }
            }

            Disposer.Timed($"Dispose of {lane.Receiver} socket", lane, lane.Receiver.DisposeNow);
        });
    }

    /// <summary>Tells a message received whole (by the stream reassembler).</summary>
    public void ReceivedWhole(Message message, string op)
    {
        if (message.MarkReceived() > 1)
        {
            Violation(Violations.Duplicated, $"{op} returned {message} a second time (sent by {message.SentBy})", message.Lane);
        }
        else
        {
            message.Lane.CountReceived();
        }

        Counters.Add(Counter.MessagesReceived);
    }

    /// <summary>A descriptor from <c>ReceiveFd</c>/<c>ReceiveSocket</c>: it must be a single sent with <c>SendFd</c>/<c>SendSocket</c>.</summary>
    public void MatchSingle(Lane lane, Token token, string op)
    {
        Message message = token.Message!;
        if (message.Lane != lane || message.Shape is not (MessageShape.Single or MessageShape.SingleSocket))
        {
            Violation(Violations.Garbled, $"{op} returned {token} of {message} (sent by {message.SentBy}); a one-descriptor receive must refuse it", lane);
            return;
        }

        ReceivedWhole(message, op);
    }

    /// <summary>What <c>ReceiveFds</c> or a frame returned on a message lane: one whole message with exactly its descriptors.</summary>
    public void MatchMessage(Lane lane, ReadOnlySpan<byte> data, Token?[] tokens, string op)
    {
        if (Array.IndexOf(tokens, null) >= 0)
        {
            return; // a foreign descriptor, reported already
        }

        Message? message;
        if (data.Length >= MessageCodec.HeaderSize)
        {
            if (MessageCodec.Check(data, out int id, out _) is { } error)
            {
                Violation(Violations.Garbled, $"{op} returned {error}", lane);
                return;
            }

            message = FindMessage(id);
        }
        else if (tokens.Length > 0 && (data.IsEmpty || (data.Length == 4 && !data.ContainsAnyExcept((byte)0))))
        {
            message = tokens[0]!.Message; // known by its descriptors
        }
        else
        {
            Violation(Violations.Garbled, $"{op} returned {data.Length} bytes ({Convert.ToHexString(data)}) and {tokens.Length} descriptors: no message is like that", lane);
            return;
        }

        if (message is null || message.Lane != lane || message.DataLength != data.Length)
        {
            Violation(Violations.Garbled, $"{op} returned {data.Length} bytes and {tokens.Length} descriptors that are not {message?.ToString() ?? "a message sent"}", lane);
            return;
        }

        if (!message.Tokens.AsSpan().SequenceEqual(tokens!))
        {
            Violation(Violations.Split, $"{op} returned {message} (sent by {message.SentBy}) with {tokens.Length} descriptors that are not its own", lane);
            return;
        }

        ReceivedWhole(message, op);
    }

    private void AddLane(LaneKind kind)
    {
        Lane lane;
        try
        {
            lane = Lane.Create(Interlocked.Increment(ref _nextLaneId), kind, _rng, Injects(Fault.Timeouts));
        }
        catch (SocketException)
        {
            Counters.Add(Counter.HarnessOutOfDescriptors); // a squeeze is on
            return;
        }

        lock (_lanes)
        {
            _lanes.Add(lane);
        }

        int senders = _rng.Next(1, 4);
        int receivers = kind == LaneKind.StreamBatches ? 1 : _rng.Next(1, 3);
        for (int i = 0; i < senders; i++)
        {
            StartWorker(lane, true, $"chaos send {lane.Id}", new SenderWorker(this, lane, new Random(_rng.Next())).StepAsync, _rng.NextDouble() < 0.5);
        }

        for (int i = 0; i < receivers; i++)
        {
            StartWorker(lane, false, $"chaos recv {lane.Id}", new ReceiverWorker(this, lane, lane.Receiver, new Random(_rng.Next())).StepAsync, _rng.NextDouble() < 0.5);
        }
    }

    /// <summary>
    /// A worker of its own thread mixes blocking and async calls (waiting for the async ones); a task worker makes async
    /// calls only and holds no thread while they wait.
    /// </summary>
    private void StartWorker(Lane lane, bool sender, string name, Func<bool, Task<bool>> step, bool ownThread, Action? atExit = null)
    {
        var random = new Random(_rng.Next());
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                while (step(random.Next(2) == 0).GetAwaiter().GetResult())
                {
                }
            }
            catch (Exception e)
            {
                Violation(Violations.HarnessError, $"{name}: {e}");
            }
            finally
            {
                atExit?.Invoke();
                done.SetResult();
            }
        })
        {
            IsBackground = true,
            Name = name,
        };

        if (!ownThread || !Disposer.TryStart(thread))
        {
            _ = Task.Run(async () =>
            {
                try
                {
                    // Yield between steps: a step whose calls complete at once would otherwise keep its pool thread,
                    // and the library's woken calls would queue behind a starved pool, not behind the library.
                    while (await step(false).ConfigureAwait(false))
                    {
                        await Task.Yield();
                    }
                }
                catch (Exception e)
                {
                    Violation(Violations.HarnessError, $"{name}: {e}");
                }
                finally
                {
                    atExit?.Invoke();
                    done.SetResult();
                }
            });
        }

        _workers.Enqueue((lane, sender, done.Task));
    }

    /// <summary>Injects a fault every few tens of milliseconds, and keeps the number of live lanes up.</summary>
    private void Monkey(Random rng)
    {
        long last = Environment.TickCount64;
        while (!_chaosOver.Token.WaitHandle.WaitOne(rng.Next(10, 50)))
        {
            // On a loaded machine the thread wakes late: catch up, so the faults keep their rate per second.
            long now = Environment.TickCount64;
            for (long due = Math.Clamp((now - last) / 30, 1, 5); due > 0; due--)
            {
                InjectOne(rng);
            }

            last = now;
        }
    }

    private void InjectOne(Random rng)
    {
        Lane[] live;
        lock (_lanes)
        {
            live = [.. _lanes.Where(l => l.IsLive)];
        }

        if (live.Length < _targetLanes)
        {
            Counters.Add(Counter.LanesAdded);
            AddLane(InitialLanes[rng.Next(InitialLanes.Length)].Kind);
        }

        if (live.Length == 0)
        {
            return;
        }

        Lane lane = live[rng.Next(live.Length)];
        double r = rng.NextDouble();
        if (r < 0.30 && Injects(Fault.Pause))
        {
            Counters.Add(Counter.Pauses);
            int pause = rng.Next(100, 1500);
            lane.PauseReceivers(pause); // senders fill the socket and wait
            lane.Log.Add($"receivers paused {pause} ms");
        }
        else if (r >= 0.30 && r < 0.40 && Injects(Fault.Stall))
        {
            Counters.Add(Counter.Stalls);
            int stall = rng.Next(1200, 2500);
            lane.StallSenders(stall); // receivers wait long, past their timeouts
            lane.Log.Add($"senders stalled {stall} ms");
        }
        else if (r >= 0.40 && r < 0.46 && Injects(Fault.Squeeze) && Number > 0) // the warm-up lets the runtime start its threads
        {
            Squeeze(rng.Next(0, 48), rng.Next(30, 250));
        }
        else if (r >= 0.46 && r < 0.51 && Injects(Fault.PeerClose))
        {
            Counters.Add(Counter.PeerCloses);
            lane.ReceiverGoneEarly = true;
            lane.Log.Add("receiver closed by the chaos");
            CloseReceiver(lane); // under its receives; for the senders, the peer closes midway
        }
        else if (r >= 0.51 && r < 0.56 && Injects(Fault.SocketDisposal))
        {
            Counters.Add(Counter.SocketDisposals);
            lane.Log.Add("sender disposed by the chaos");
            Disposer.Dispose(lane.Sender); // under its sends; for the receivers, the peer closes midway
        }
        else if (r >= 0.56 && r < 0.61 && Injects(Fault.Twin) && lane.Kind is LaneKind.StreamSingles or LaneKind.Datagram or LaneKind.Seqpacket && lane.AddTwin() is { } twin)
        {
            // A second Socket over the receiving descriptor, receiving at the same time as the lane's own.
            Counters.Add(Counter.Twins);
            lane.Log.Add("a twin Socket over the receiving descriptor starts receiving");
            long until = Environment.TickCount64 + rng.Next(300, 1500);
            var worker = new ReceiverWorker(this, lane, twin, new Random(rng.Next()), until);
            StartWorker(lane, false, $"chaos twin {lane.Id}", worker.StepAsync, rng.NextDouble() < 0.5, () => Disposer.Dispose(twin));
        }
    }

    /// <summary>Holds the whole process at its descriptor limit for <paramref name="holdMs"/>.</summary>
    private void Squeeze(int slack, int holdMs)
    {
        DescriptorSqueeze squeeze;
        lock (_squeezes)
        {
            _squeezeOpenSince = Environment.TickCount64;
        }

        try
        {
            squeeze = DescriptorSqueeze.Begin(slack);
        }
        catch (IOException e)
        {
            lock (_squeezes)
            {
                _squeezes.Add((_squeezeOpenSince, Environment.TickCount64));
                _squeezeOpenSince = 0;
            }

            Violation(Violations.HarnessError, $"the squeeze did not start: {e.Message}");
            return;
        }

        Counters.Add(Counter.Squeezes);
        LogEverywhere($"descriptor squeeze for {holdMs} ms, {slack} numbers free");
        try
        {
            Thread.Sleep(holdMs);
        }
        finally
        {
            squeeze.Dispose();
            lock (_squeezes)
            {
                _squeezes.Add((_squeezeOpenSince, Environment.TickCount64));
                _squeezeOpenSince = 0;
            }
        }
    }

    private void LogEverywhere(string what)
    {
        lock (_lanes)
        {
            foreach (Lane lane in _lanes.Where(l => l.IsLive))
            {
                lane.Log.Add(what);
            }
        }
    }

    /// <summary>Every 100 ms, checks the calls in flight, and notes how late it woke (the machine's own stalls).</summary>
    private void Watchdog(CancellationToken stop)
    {
        long before = Environment.TickCount64;
        while (!stop.WaitHandle.WaitOne(100))
        {
            long now = Environment.TickCount64;
            _lags.Enqueue((now, now - before - 100));
            while (_lags.Count > 100 && _lags.TryDequeue(out _))
            {
            }

            // How long the pool takes to start queued work: the library's woken async calls continue there.
            ThreadPool.UnsafeQueueUserWorkItem(
                queuedAt =>
                {
                    long ran = Environment.TickCount64;
                    _poolLags.Enqueue((ran, ran - queuedAt));
                    while (_poolLags.Count > 100 && _poolLags.TryDequeue(out _))
                    {
                    }
                },
                now,
                preferLocal: false);
            Calls.Inspect();
            before = Environment.TickCount64;
        }
    }

    /// <summary>How late the watchdog woke at worst since <paramref name="since"/>: a machine too loaded to time calls shows here.</summary>
    public long WorstLagSince(long since) => _lags.Where(l => l.At >= since).Select(l => l.Lag).DefaultIfEmpty(0).Max();

    /// <summary>How late queued work started on the thread pool at worst since <paramref name="since"/>.</summary>
    public long WorstPoolLagSince(long since) => _poolLags.Where(l => l.At >= since).Select(l => l.Lag).DefaultIfEmpty(0).Max();

    private static Task RunOnThread(string name, Action body)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        new Thread(() =>
        {
            try
            {
                body();
                done.SetResult();
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        })
        { IsBackground = true, Name = name }.Start();
        return done.Task;
    }

    /// <summary>
    /// Lets the senders finish, closes them (end of stream), lets the receivers read what is left, closes them, and waits
    /// for every worker and disposal. A call that never returns is left behind (the watchdog has reported it).
    /// </summary>
    /// <returns>How many workers and disposals were abandoned.</returns>
    private async Task<int> DrainAndCloseAsync()
    {
        Lane[] lanes;
        lock (_lanes)
        {
            lanes = [.. _lanes];
        }

        (Lane Lane, bool Sender, Task Done)[] workers = [.. _workers];
        await WhenAllOrTimeout(workers.Where(w => w.Sender).Select(w => w.Done), 10_000).ConfigureAwait(false);
        foreach (Lane lane in lanes)
        {
            Disposer.Dispose(lane.Sender);
        }

        // Receivers read until end of stream; datagram receivers until all is read or nothing came for a second.
        long drainStarted = Environment.TickCount64;
        long deadline = drainStarted + 15_000;
        var open = new HashSet<Lane>(lanes.Where(l => !l.Receiver.IsDisposed));
        while (open.Count > 0 && Environment.TickCount64 < deadline)
        {
            foreach (Lane lane in open.ToArray())
            {
                bool receiversDone = workers.Where(w => w.Lane == lane && !w.Sender).All(w => w.Done.IsCompleted);
                bool quiet = !lane.HasEndOfStream
                    && (Environment.TickCount64 - Math.Max(lane.LastReceiveAt, drainStarted) > 1000 || lane.AllReceived);
                if (receiversDone || quiet)
                {
                    CloseReceiver(lane);
                    open.Remove(lane);
                }
            }

            await Task.Delay(20).ConfigureAwait(false);
        }

        foreach (Lane lane in open)
        {
            CloseReceiver(lane);
        }

        int abandoned = await WhenAllOrTimeout(_workers.Select(w => w.Done), 5_000).ConfigureAwait(false);
        return abandoned + Disposer.JoinAll(Environment.TickCount64 + 3_000);
    }

    /// <returns>How many of <paramref name="tasks"/> had not finished.</returns>
    private static async Task<int> WhenAllOrTimeout(IEnumerable<Task> tasks, int milliseconds)
    {
        Task[] all = [.. tasks];
        await Task.WhenAny(Task.WhenAll(all), Task.Delay(milliseconds)).ConfigureAwait(false);
        return all.Count(t => !t.IsCompleted);
    }

    /// <summary>
    /// Every message sent: received exactly once, or its send reported failure (then received at most once, and never if it
    /// reported that nothing was written); a success that never arrived is excused only by a documented cause on its lane.
    /// </summary>
    private void Account()
    {
        foreach (IGrouping<Lane, Message> lane in _messages.Values.GroupBy(m => m.Lane))
        {
            var lost = new List<Message>();
            foreach (Message message in lane)
            {
                int arrived = message.Tokens.Count(t => t.Received > 0);
                if (arrived > 0 && arrived < message.Tokens.Length)
                {
                    Violation(Violations.Split, $"{message}: {arrived} of its {message.Tokens.Length} descriptors arrived (sent by {message.SentBy})", lane.Key);
                }

                bool received = arrived > 0 || message.Received > 0;
                if (message.State == SendState.FailedNothingSent && received)
                {
                    Violation(Violations.SentDespiteFailure, $"{message} arrived, but {message.SentBy} reported that it sent nothing", lane.Key);
                }
                else if (message.State == SendState.Succeeded && !received && message.Shape != MessageShape.Empty)
                {
                    lost.Add(message);
                }
            }

            lane.Key.Reassembler?.CheckEnd(this);
            ExcuseOrReport(lane.Key, lost);
            CheckEmptyDatagrams(lane.Key);
        }
    }

    private void ExcuseOrReport(Lane lane, List<Message> lost)
    {
        if (lost.Count == 0)
        {
            return;
        }

        int descriptors = lost.Sum(m => m.Tokens.Length);
        if (lane.ReceiverGoneEarly)
        {
            Counters.Add(Counter.DescriptorsDiscarded, descriptors); // unread when the receiving socket was closed or its channel faulted
            return;
        }

        // After a refusal a stream's bytes are out of step: messages without descriptors can no longer be recognised.
        List<Message> traceable = lane.Reassembler is { Desynced: true } ? lost.FindAll(m => m.Tokens.Length > 0) : lost;
        if (traceable.Count <= lane.Refusals)
        {
            Counters.Add(Counter.DescriptorsRefused, descriptors); // each refusal consumed one message and closed its descriptors
            return;
        }

        foreach (Message message in traceable)
        {
            Violation(Violations.Lost, $"{message}, sent by {message.SentBy} which reported success, never arrived "
                + $"({traceable.Count} such on the lane, {lane.Refusals} refusals, receiver {(lane.Receiver.IsDisposed ? "closed at the end" : "open")})", lane);
        }
    }

    private void CheckEmptyDatagrams(Lane lane)
    {
        bool tooMany = lane.EmptyReceived > lane.EmptyAttempted;
        bool tooFew = lane.EmptyReceived < lane.EmptySucceeded && !lane.ReceiverGoneEarly && lane.Refusals == 0;
        if (tooMany || tooFew)
        {
            Violation(Violations.EmptyMismatch, $"{lane}: {lane.EmptyReceived} empty datagrams received, {lane.EmptySucceeded} sent ({lane.EmptyAttempted} attempted)", lane);
        }
    }
}
