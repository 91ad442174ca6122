namespace AsyncSendFd.Tests.Support;

/// <summary>
/// Changes the process's soft RLIMIT_NOFILE for a scope and puts it back on Dispose. Only for tests in
/// <see cref="DescriptorsCollection"/>: the limit is process-wide.
/// </summary>
internal sealed class NoFileLimit : IDisposable
{
    private readonly ulong _original;

    private NoFileLimit(ulong soft)
    {
        _original = TestNative.GetNoFileLimit().Soft;
        TestNative.SetNoFileSoftLimit(soft);
    }

    /// <summary>Lowers the soft limit so that only <paramref name="freeAboveHighest"/> numbers above the highest open descriptor remain.</summary>
    public static NoFileLimit JustAboveHighestOpen(int freeAboveHighest) =>
        new((ulong)(TestNative.HighestOpenDescriptor() + 1 + freeAboveHighest));

    /// <summary>Raises the soft limit to at least <paramref name="wanted"/> (capped by the hard limit).</summary>
    public static NoFileLimit AtLeast(ulong wanted)
    {
        (ulong soft, ulong hard) = TestNative.GetNoFileLimit();
        return new NoFileLimit(Math.Max(soft, Math.Min(wanted, hard)));
    }

    public void Dispose() => TestNative.SetNoFileSoftLimit(_original);
}
