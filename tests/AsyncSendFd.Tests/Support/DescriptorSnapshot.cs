using System.Globalization;

namespace AsyncSendFd.Tests.Support;

/// <summary>The open descriptors of this process and what they point at, to say exactly what leaked.</summary>
internal sealed class DescriptorSnapshot
{
    private readonly Dictionary<int, string> _targets;

    private DescriptorSnapshot(Dictionary<int, string> targets) => _targets = targets;

    public int Count => _targets.Count;

    /// <summary>The runtime maps each framework assembly it loads through a descriptor it keeps; loading one late is not a leak.</summary>
    private static readonly string RuntimeDirectory = System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory();

    public static DescriptorSnapshot Take()
    {
        LibraryWarmup.Ensure();
        var targets = new Dictionary<int, string>();
        foreach (string entry in Directory.GetFileSystemEntries("/proc/self/fd"))
        {
            try
            {
                targets[int.Parse(Path.GetFileName(entry), CultureInfo.InvariantCulture)] = new FileInfo(entry).LinkTarget ?? "?";
            }
            catch (IOException)
            {
                // closed while listing (the directory's own descriptor, for one)
            }
        }

        return new DescriptorSnapshot(targets);
    }

    /// <summary>
    /// Fails if any descriptor is open now that was not open (to the same target) at <paramref name="baseline"/>:
    /// the count is back to the baseline or below it. A descriptor closed meanwhile by something else (a finalizer,
    /// a child process's pipe) is not a leak and must not hide one, so the sets are compared, not just the counts.
    /// </summary>
    public static void AssertBackTo(DescriptorSnapshot baseline)
    {
        DescriptorSnapshot now = Take();
        var added = now._targets
            .Where(p => !baseline._targets.TryGetValue(p.Key, out string? before) || before != p.Value)
            .Where(p => !p.Value.StartsWith(RuntimeDirectory, StringComparison.Ordinal))
            .ToList();
        int runtimeLoads = now._targets.Count(p => p.Value.StartsWith(RuntimeDirectory, StringComparison.Ordinal) && !baseline._targets.ContainsKey(p.Key));
        if (added.Count > 0 || now.Count - runtimeLoads > baseline.Count)
        {
            string removed = string.Join(", ", baseline._targets.Where(p => !now._targets.ContainsKey(p.Key)).Select(p => $"{p.Key}->{p.Value}"));
            Assert.Fail($"Descriptor count {now.Count}, baseline {baseline.Count}. Opened since: [{string.Join(", ", added.Select(p => $"{p.Key}->{p.Value}"))}]. Closed since: [{removed}].");
        }
    }
}
