namespace AsyncSendFd.Hosting;

/// <summary>How an upgrade ended.</summary>
public sealed class UpgradeResult
{
    private UpgradeResult(bool succeeded, int successorProcessId, string? error)
    {
        Succeeded = succeeded;
        SuccessorProcessId = successorProcessId;
        Error = error;
    }

    /// <summary>Whether the successor took over; if so this process has retired and is stopping.</summary>
    public bool Succeeded { get; }

    /// <summary>The successor's process id (from the kernel), or 0 when none connected.</summary>
    public int SuccessorProcessId { get; }

    /// <summary>Why the upgrade failed; <see langword="null"/> when it succeeded.</summary>
    public string? Error { get; }

    internal static UpgradeResult Success(int processId) => new(true, processId, null);

    internal static UpgradeResult Failure(string error, int processId = 0) => new(false, processId, error);

    /// <inheritdoc />
    public override string ToString() => Succeeded ? $"succeeded: pid {SuccessorProcessId} serves" : $"failed: {Error}";
}
