using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace KestrelUpgrade.Driver;

/// <summary>
/// Every process descended from one start, whether or not the process that started it still lives: a successor
/// generation outlives the generation that started it and is reparented, so the process tree cannot find it. Each
/// descendant inherits an environment variable naming the lineage, which /proc/PID/environ shows. Linux only: without
/// /proc, no member is found.
/// </summary>
internal sealed class Lineage
{
    private const string Variable = "KESTRELUPGRADE_DRIVER_LINEAGE";

    private readonly byte[] _entry;

    public Lineage()
    {
        Name = Guid.NewGuid().ToString("N");
        _entry = Encoding.ASCII.GetBytes($"{Variable}={Name}\0");
    }

    public string Name { get; }

    /// <summary>Makes the process <paramref name="start"/> starts, and all it starts in turn, members.</summary>
    public void Adopt(ProcessStartInfo start) => start.Environment[Variable] = Name;

    /// <summary>The members running now (zombies have stopped running).</summary>
    public IReadOnlyList<int> Running()
    {
        var running = new List<int>();
        if (!Directory.Exists("/proc"))
        {
            return running;
        }

        foreach (string directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out int pid)
                && IsMember(pid) && Signals.IsRunning(pid))
            {
                running.Add(pid);
            }
        }

        return running;
    }

    /// <summary>
    /// SIGKILLs every member still running and says what each was doing: its command line, and each thread's state and
    /// the kernel function it waits in, which is what a hang needs to be found.
    /// </summary>
    /// <returns>One paragraph per member killed; empty when none ran.</returns>
    public string KillRunning()
    {
        var report = new StringBuilder();
        foreach (int pid in Running())
        {
            report.AppendLine(Describe(pid));
            _ = Signals.TrySend(pid, Signals.SIGKILL);
        }

        return report.ToString();
    }

    /// <summary>Waits up to <paramref name="timeout"/> for every member to stop running.</summary>
    public async Task<bool> WaitUntilNoneRunsAsync(TimeSpan timeout)
    {
        var waited = Stopwatch.StartNew();
        while (Running().Count > 0)
        {
            if (waited.Elapsed > timeout)
            {
                return false;
            }

            await Task.Delay(20);
        }

        return true;
    }

    public static string Describe(int pid)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"pid {pid}: {Read($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim()}");
        try
        {
            foreach (string task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                string stat = Read($"{task}/stat");
                string state = stat.Length > stat.LastIndexOf(')') + 2 ? stat[stat.LastIndexOf(')') + 2].ToString() : "?";
                text.Append(CultureInfo.InvariantCulture,
                    $"\n  thread {Path.GetFileName(task)} '{Read($"{task}/comm").Trim()}' {state} in {Read($"{task}/wchan")}");
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            text.Append(" (exited while described)");
        }

        return text.ToString();
    }

    private bool IsMember(int pid)
    {
        try
        {
            return File.ReadAllBytes($"/proc/{pid}/environ").AsSpan().IndexOf(_entry) >= 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static string Read(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "?";
        }
    }
}
