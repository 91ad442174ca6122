namespace AsyncSendFd.Benchmarks.Chaos;

/// <summary>What the run counts, in the groups it prints.</summary>
internal enum Counter
{
    // Operations.
    BlockingSends,
    AsyncSends,
    BlockingReceives,
    AsyncReceives,

    // What moved.
    MessagesSent,
    MessagesFailed,
    MessagesReceived,
    DescriptorsSent,
    DescriptorsMoved,
    DescriptorsRefused,
    DescriptorsDiscarded,

    // Faults injected.
    Cancellations,
    HandleDisposals,
    SocketDisposals,
    PeerCloses,
    Squeezes,
    Stalls,
    Pauses,
    Twins,
    LanesAdded,

    // What the faults caused (documented outcomes).
    Canceled,
    TimedOut,
    Refusals,
    ClosedPeerErrors,
    ResourceErrors,
    HarnessOutOfDescriptors,
}

/// <summary>Counters shared by every worker of every round.</summary>
internal sealed class ChaosCounters
{
    private readonly long[] _values = new long[Enum.GetValues<Counter>().Length];

    public long this[Counter counter] => Interlocked.Read(ref _values[(int)counter]);

    public void Add(Counter counter, long n = 1) => Interlocked.Add(ref _values[(int)counter], n);

    public long Operations => this[Counter.BlockingSends] + this[Counter.AsyncSends] + this[Counter.BlockingReceives] + this[Counter.AsyncReceives];

    public long Faults =>
        this[Counter.Cancellations] + this[Counter.HandleDisposals] + this[Counter.SocketDisposals] + this[Counter.PeerCloses]
        + this[Counter.Squeezes] + this[Counter.Stalls] + this[Counter.Pauses] + this[Counter.Twins];

    public void Print(TextWriter output)
    {
        output.WriteLine(
            $"operations: {Operations:N0} (sends {this[Counter.BlockingSends]:N0} blocking + {this[Counter.AsyncSends]:N0} async, "
            + $"receives {this[Counter.BlockingReceives]:N0} blocking + {this[Counter.AsyncReceives]:N0} async)");
        output.WriteLine(
            $"messages: {this[Counter.MessagesSent]:N0} sent, {this[Counter.MessagesFailed]:N0} sends failed as documented, "
            + $"{this[Counter.MessagesReceived]:N0} received whole");
        output.WriteLine(
            $"descriptors: {this[Counter.DescriptorsSent]:N0} in successful sends, {this[Counter.DescriptorsMoved]:N0} moved (received once), "
            + $"{this[Counter.DescriptorsRefused]:N0} refused by the receiver (closed, documented), "
            + $"{this[Counter.DescriptorsDiscarded]:N0} discarded unread with a disposed or faulted receiver");
        output.WriteLine(
            $"faults injected: {Faults:N0} (cancellations {this[Counter.Cancellations]:N0}, handle disposals mid-send {this[Counter.HandleDisposals]:N0}, "
            + $"sockets disposed in use {this[Counter.SocketDisposals]:N0}, peers closed midway {this[Counter.PeerCloses]:N0}, "
            + $"descriptor-limit squeezes {this[Counter.Squeezes]:N0}, sender stalls {this[Counter.Stalls]:N0}, receiver pauses {this[Counter.Pauses]:N0}, "
            + $"second Socket on a receiving descriptor {this[Counter.Twins]:N0}; {this[Counter.LanesAdded]:N0} lanes added mid-round)");
        output.WriteLine(
            $"documented outcomes: {this[Counter.Canceled]:N0} canceled, {this[Counter.TimedOut]:N0} timed out, {this[Counter.Refusals]:N0} refusals, "
            + $"{this[Counter.ClosedPeerErrors]:N0} closed-peer errors, {this[Counter.ResourceErrors]:N0} resource errors (ETOOMANYREFS, ENOBUFS); "
            + $"{this[Counter.HarnessOutOfDescriptors]:N0} sends skipped for want of a descriptor to send");
    }
}
