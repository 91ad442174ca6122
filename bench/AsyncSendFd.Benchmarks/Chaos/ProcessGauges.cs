using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace AsyncSendFd.Benchmarks.Chaos;

/// <summary>The process's descriptors, threads and memory, read between rounds.</summary>
[SupportedOSPlatform("linux")]
internal static class ProcessGauges
{
    private static readonly string RuntimeDirectory = RuntimeEnvironment.GetRuntimeDirectory();

    /// <summary>Open descriptors and what they point at, leaving out the runtime's own files (assemblies and symbol files it opens late).</summary>
    public static Dictionary<int, string> Descriptors()
    {
        var open = new Dictionary<int, string>();
        foreach (string entry in Directory.GetFileSystemEntries("/proc/self/fd"))
        {
            string? target;
            try
            {
                target = new FileInfo(entry).LinkTarget;
            }
            catch (IOException)
            {
                continue; // closed since the listing (the listing's own, for one)
            }

            if (target is not null && !target.StartsWith(RuntimeDirectory, StringComparison.Ordinal)
                && !target.EndsWith(".dll", StringComparison.Ordinal) && !target.EndsWith(".pdb", StringComparison.Ordinal))
            {
                open[int.Parse(Path.GetFileName(entry), CultureInfo.InvariantCulture)] = target;
            }
        }

        return open;
    }

    /// <summary>
    /// The names of the threads that are not the runtime's own: the thread pool's (".NET TP Worker" and the pool's other
    /// threads come and go with load, and idle ones retire on their own), the tiered compiler's (which exits when idle) and
    /// the background GC's (started by the first background collection, then kept).
    /// </summary>
    public static List<string> OtherThreads()
    {
        var names = new List<string>();
        foreach (string task in Directory.GetDirectories("/proc/self/task"))
        {
            string name;
            try
            {
                name = File.ReadAllText(Path.Combine(task, "comm")).TrimEnd('\n');
            }
            catch (IOException)
            {
                continue; // exited since the listing
            }

            if (!name.StartsWith(".NET TP ", StringComparison.Ordinal) && !name.StartsWith(".NET Tiered", StringComparison.Ordinal)
                && !name.StartsWith(".NET BGC", StringComparison.Ordinal))
            {
                names.Add(name);
            }
        }

        names.Sort(StringComparer.Ordinal);
        return names;
    }

    public static int AllThreads() => Directory.GetDirectories("/proc/self/task").Length;

    /// <summary>The GC heap after a full blocking collection.</summary>
    public static long HeapBytes()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: false);
    }

    public static long ResidentBytes() => Environment.WorkingSet;
}
