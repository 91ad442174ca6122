using System.Collections.Concurrent;

namespace AsyncSendFd.Benchmarks.Chaos;

/// <summary>One invariant the chaos run checks, named after the README rule (or contract clause) it comes from.</summary>
internal sealed record ViolationKind(string Name, string Rule, string Meaning);

/// <summary>Every invariant the run checks. A violation is a bug to fix, never a figure to tune.</summary>
internal static class Violations
{
    // Each descriptor sent is received exactly once, or its send reported failure.
    public static readonly ViolationKind Duplicated = new("duplicated", "Messages stay whole", "a descriptor or message was received twice");
    public static readonly ViolationKind Lost = new(
        "lost", "Messages stay whole", "a send reported success, yet its message never arrived, and no refusal or disposal of the receiver accounts for it");
    public static readonly ViolationKind SentDespiteFailure = new(
        "sent-despite-failure", "Cancellation", "a send that reported it sent nothing (canceled, timed out, refused) delivered its message");
    public static readonly ViolationKind Foreign = new("foreign", "No descriptor is ever leaked", "a descriptor arrived that no send carried");

    // Every receive returns a whole message or a documented exception.
    public static readonly ViolationKind Split = new("split", "Messages stay whole", "a message arrived with other descriptors than it was sent with");
    public static readonly ViolationKind Garbled = new("garbled", "Messages stay whole", "a receive returned bytes that are no whole message");
    public static readonly ViolationKind StreamOutOfStep = new(
        "stream-out-of-step", "Messages stay whole", "a stream's bytes stopped following the messages sent (interleaved, lost or descriptors on the wrong byte)");
    public static readonly ViolationKind EndedMidMessage = new(
        "ended-mid-message", "Messages stay whole", "a stream ended inside a message whose send succeeded");
    public static readonly ViolationKind ChannelOutOfStep = new(
        "channel-out-of-step", "FdMessageChannel (contract: Receiving)", "a frame channel read a refused or broken frame's rest as a new frame");
    public static readonly ViolationKind UnexpectedRefusal = new(
        "unexpected-refusal", "No descriptor is ever leaked", "an IOException refusal where no documented cause applies (e.g. MSG_CTRUNC with descriptors to spare)");
    public static readonly ViolationKind Undocumented = new("undocumented-exception", "Errors", "a call threw an exception its documentation does not list");
    public static readonly ViolationKind DisposedWhileAlive = new("disposed-while-alive", "Errors", "ObjectDisposedException from a socket nobody disposed");
    public static readonly ViolationKind PeerErrorWhileOpen = new("peer-error-while-open", "Errors", "a closed-peer error while the peer was open");
    public static readonly ViolationKind EndWhileOpen = new("end-while-open", "Zero bytes", "end of stream while the peer was open");
    public static readonly ViolationKind EmptyMismatch = new("empty-datagrams", "Zero bytes", "more empty datagrams arrived than were sent, or fewer than succeeded");

    // No call outlives the disposal of its socket by more than a second; nothing waits for ever.
    public static readonly ViolationKind OutlivedDisposal = new(
        "outlived-disposal", "Errors (disposal)", "a call still ran a second after its socket was disposed");
    public static readonly ViolationKind OutlivedPeerClose = new(
        "outlived-peer-close", "Errors", "a call still waited two seconds after its peer closed");
    public static readonly ViolationKind DisposeBlocked = new("dispose-blocked", "Ownership", "Dispose of a socket or of a handle being sent took over a second");
    public static readonly ViolationKind SharedSocketShutDown = new(
        "shared-socket-shut-down", "Ownership", "a socket handed over was unusable at the receiver (shut down by the sender's Dispose)");
    public static readonly ViolationKind TimeoutIgnored = new(
        "timeout-ignored", "No thread waits (one deadline per call)", "a blocking call ran over a second past its SendTimeout/ReceiveTimeout");
    public static readonly ViolationKind NotWoken = new(
        "not-woken", "No thread waits", "a receive kept waiting for three seconds while its socket had data");
    public static readonly ViolationKind Hung = new("hung", "Errors (disposal)", "a call or Dispose never returned; its worker was abandoned");

    // What the library hands back and what it leaves behind.
    public static readonly ViolationKind SentHandleClosed = new("sent-handle-closed", "Ownership", "the library closed a handle it was given to send");
    public static readonly ViolationKind NotCloseOnExec = new("not-close-on-exec", "Ownership", "a received descriptor was not close-on-exec");
    public static readonly ViolationKind DescriptorLeak = new(
        "descriptor-leak", "No descriptor is ever leaked", "the process's descriptors did not return to the baseline after a round");
    public static readonly ViolationKind ThreadLeak = new(
        "thread-leak", "No thread waits", "threads other than the thread pool's did not return to the baseline after a round");
    public static readonly ViolationKind MemoryGrowth = new("memory-growth", "No descriptor is ever leaked (memory)", "the GC heap or RSS grew over the run");
    public static readonly ViolationKind HarnessError = new("harness-error", "(the chaos run itself)", "the chaos harness failed; its checks are incomplete");
}

/// <summary>
/// Collects violations: counts per kind, the first few of each in full, printed as they happen. Those on a lane where a
/// second Socket received on the same descriptor (against the README's "one Socket object at a time") are counted and
/// shown apart, so that what that causes does not hide anything else.
/// </summary>
internal sealed class ViolationLog(TextWriter output)
{
    private const int PrintedPerKind = 3;

    private readonly ConcurrentDictionary<(ViolationKind Kind, bool Twin), int> _counts = new();
    private int _total;

    public int Total => Volatile.Read(ref _total);

    public void Report(ViolationKind kind, string detail, bool onTwinLane = false)
    {
        Interlocked.Increment(ref _total);
        int count = _counts.AddOrUpdate((kind, onTwinLane), 1, static (_, n) => n + 1);
        if (count <= PrintedPerKind)
        {
            output.WriteLine($"VIOLATION {kind.Name} [{kind.Rule}]: {detail}");
        }
    }

    public void PrintSummary()
    {
        if (_counts.IsEmpty)
        {
            output.WriteLine("violations: none");
            return;
        }

        output.WriteLine("violations:");
        foreach (IGrouping<ViolationKind, KeyValuePair<(ViolationKind Kind, bool Twin), int>> kind in _counts.GroupBy(p => p.Key.Kind).OrderByDescending(g => g.Sum(p => p.Value)))
        {
            int twin = kind.Where(p => p.Key.Twin).Sum(p => p.Value);
            string apart = twin > 0 ? $" ({twin:N0} on lanes where a second Socket received on the same descriptor)" : "";
            output.WriteLine($"  {kind.Sum(p => p.Value),7:N0}  {kind.Key.Name,-24} [{kind.Key.Rule}] {kind.Key.Meaning}{apart}");
        }
    }
}
