namespace AsyncSendFd.Tests.Support;

/// <summary>The open descriptors of this process and what they point at, to say exactly what leaked.</summary>
internal sealed class DescriptorSnapshot
{
    private readonly Dictionary<int, string> _targets;

    private DescriptorSnapshot(Dictionary<int, string> targets) => _targets = targets;

    public int Count => _targets.Count;

    /// <summary>The runtime's own: an assembly loaded late, or a symbol file opened to print an exception's stack trace.</summary>
    private static readonly string RuntimeDirectory = System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory();

    public static DescriptorSnapshot Take()
    {
        LibraryWarmup.Ensure();
        var targets = new Dictionary<int, string>();
        foreach (int fd in Descriptors.OpenNumbers())
        {
            // Null when the descriptor closed between the listing and the read (the listing's own, for one).
            string? target = Descriptors.TargetOf(fd);
            if (target is not null && !IsRuntimeFile(target))
            {
                targets[fd] = target;
            }
        }

        return new DescriptorSnapshot(targets);
    }

    /// <summary>Whether a descriptor is the runtime's own (assemblies and symbol files), not a test's or the library's.</summary>
    internal static bool IsRuntimeFile(string target) =>
        target.StartsWith(RuntimeDirectory, StringComparison.Ordinal)
        || target.EndsWith(".dll", StringComparison.Ordinal)
        || target.EndsWith(".pdb", StringComparison.Ordinal);

    /// <summary>
    /// Fails if any descriptor is open now that was not open (to the same target) at <paramref name="baseline"/>:
    /// the count is back to the baseline or below it. A descriptor closed meanwhile by something else (a finalizer,
    /// a child process's pipe) is not a leak and must not hide one, so the sets are compared, not just the counts.
    /// </summary>
    /// <remarks>
    /// Settles by waiting, never by collecting: a handle the library dropped would be closed by its finalizer and the
    /// leak hidden. Descriptors the host's threads hold for a moment get up to three seconds to close; a leak stays.
    /// </remarks>
    public static void AssertBackTo(DescriptorSnapshot baseline)
    {
        DescriptorSnapshot now = Take();
        for (int attempt = 0; attempt < 30 && now.Count != baseline.Count; attempt++)
        {
            Thread.Sleep(100);
            now = Take();
        }

        var added = now._targets.Where(p => !baseline._targets.TryGetValue(p.Key, out string? before) || before != p.Value).ToList();
        if (added.Count > 0 || now.Count > baseline.Count)
        {
            string removed = string.Join(", ", baseline._targets.Where(p => !now._targets.ContainsKey(p.Key)).Select(p => $"{p.Key}->{p.Value}"));
            Assert.Fail($"Descriptor count {now.Count}, baseline {baseline.Count}. Opened since: [{string.Join(", ", added.Select(p => $"{p.Key}->{p.Value}"))}]. Closed since: [{removed}].");
        }
    }
}
