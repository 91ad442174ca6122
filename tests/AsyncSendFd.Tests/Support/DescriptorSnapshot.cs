using System.Globalization;

namespace AsyncSendFd.Tests.Support;

/// <summary>The open descriptors of this process and what they point at, to say exactly what leaked.</summary>
internal sealed class DescriptorSnapshot
{
    private readonly Dictionary<int, string> _targets;

    private DescriptorSnapshot(Dictionary<int, string> targets) => _targets = targets;

    public int Count => _targets.Count;

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

    /// <summary>Fails unless the process holds exactly as many descriptors as at <paramref name="baseline"/>, naming the difference.</summary>
    public static void AssertBackTo(DescriptorSnapshot baseline)
    {
        DescriptorSnapshot now = Take();
        if (now.Count != baseline.Count)
        {
            string added = string.Join(", ", now._targets.Where(p => !baseline._targets.ContainsKey(p.Key)).Select(p => $"{p.Key}->{p.Value}"));
            string removed = string.Join(", ", baseline._targets.Where(p => !now._targets.ContainsKey(p.Key)).Select(p => $"{p.Key}->{p.Value}"));
            Assert.Fail($"Descriptor count {now.Count}, baseline {baseline.Count}. Opened since: [{added}]. Closed since: [{removed}].");
        }
    }
}
