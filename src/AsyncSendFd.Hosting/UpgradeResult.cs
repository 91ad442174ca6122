namespace AsyncSendFd.Hosting;

/// <summary>How an upgrade ended.</summary>
public sealed class UpgradeResult
{
    private UpgradeResult(UpgradeOutcome outcome, int successorProcessId, string? error)
    {
        Outcome = outcome;
        SuccessorProcessId = successorProcessId;
        Error = error;
    }

    /// <summary>Whether the successor took over; if so this process has retired and is stopping.</summary>
    public bool Succeeded => Outcome == UpgradeOutcome.Succeeded;

    /// <summary>How it ended: <see cref="UpgradeOutcome.Succeeded"/>, or which way it failed.</summary>
    public UpgradeOutcome Outcome { get; }

    /// <summary>The successor's process id (from the kernel), or 0 when none connected.</summary>
    public int SuccessorProcessId { get; }

    /// <summary>Why the upgrade failed; <see langword="null"/> when it succeeded.</summary>
    public string? Error { get; }

    internal static UpgradeResult Success(int processId) => new(UpgradeOutcome.Succeeded, processId, null);

    internal static UpgradeResult Failure(UpgradeOutcome outcome, string error, int processId = 0)
    {
        System.Diagnostics.Debug.Assert(outcome != UpgradeOutcome.Succeeded, "A failure needs a failing outcome.");
        return new(outcome, processId, error);
    }

    /// <inheritdoc />
    public override string ToString() => Succeeded ? $"succeeded: pid {SuccessorProcessId} serves" : $"failed ({Outcome}): {Error}";
}
