using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace AsyncSendFd.Hosting.Tests.Support;

/// <summary>
/// A generation running as its own process: this test assembly in its host mode (ChildHost/Program.cs), its
/// output (and its successors', who inherit the pipe) kept line by line. Every generation it reported is killed
/// at the end if it still runs.
/// </summary>
internal sealed partial class HostProcess : IDisposable
{
    private readonly Process _process;
    private readonly bool _ownPidNamespace;
    private readonly ConcurrentQueue<string> _lines = new();

    private HostProcess(Process process, bool ownPidNamespace)
    {
        _process = process;
        _ownPidNamespace = ownPidNamespace;
        _process.OutputDataReceived += (_, e) => Keep(e.Data);
        _process.ErrorDataReceived += (_, e) => Keep(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>The process started (for a wrapper such as unshare, the wrapper's pid).</summary>
    public Process Process => _process;

    public IReadOnlyCollection<string> Lines => _lines;

    /// <summary>Runs a command (kill, unshare) and returns its exit code.</summary>
    public static async Task<int> RunAsync(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { UseShellExecute = false };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start");
        await process.WaitForExitAsync().WaitAsync(Timeouts.Guard);
        return process.ExitCode;
    }

    /// <summary>Sends <paramref name="signal"/> (HUP, TERM) to <paramref name="pid"/>.</summary>
    public static async Task SignalAsync(int pid, string signal) =>
        Assert.Equal(0, await RunAsync("kill", $"-{signal}", pid.ToString(CultureInfo.InvariantCulture)));

    /// <summary>Starts <c>dotnet AsyncSendFd.Hosting.Tests.dll host</c> with <paramref name="configuration"/> as <c>--key=value</c>, behind <paramref name="wrapper"/> if given.</summary>
    public static HostProcess Start(IEnumerable<KeyValuePair<string, string>> configuration, string[]? wrapper = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        string dotnet = Environment.ProcessPath ?? "dotnet";
        string[] command = [.. wrapper ?? [], dotnet, typeof(HostProcess).Assembly.Location, "host", .. configuration.Select(c => $"--{c.Key}={c.Value}")];
        var start = new ProcessStartInfo(command[0]) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in command.Skip(1))
        {
            start.ArgumentList.Add(argument);
        }

        foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        return new HostProcess(Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start"), ownPidNamespace: wrapper is not null);
    }

    /// <summary>Waits (up to the guard) for an output line containing <paramref name="text"/>.</summary>
    public async Task<string> WaitForLineAsync(string text)
    {
        DateTime deadline = DateTime.UtcNow + Timeouts.Guard;
        while (DateTime.UtcNow < deadline)
        {
            if (_lines.FirstOrDefault(line => line.Contains(text, StringComparison.Ordinal)) is { } found)
            {
                return found;
            }

            await Task.Delay(20);
        }

        Assert.Fail($"No output line with '{text}'. Output:\n{string.Join('\n', _lines)}");
        return "";
    }

    /// <summary>The pid of generation <paramref name="generation"/>, from its "started" line (as this test's pid namespace sees it when it runs in this one).</summary>
    public async Task<int> PidOfGenerationAsync(int generation)
    {
        Match match = StartedLine().Match(await WaitForLineAsync($"child: generation {generation} pid "));
        return int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    public void Dispose()
    {
        // Pids reported from inside another pid namespace are not this namespace's (1 would be our init): the wrapper's tree goes instead.
        IEnumerable<int> reported = _ownPidNamespace ? [] : _lines.Select(line => StartedLine().Match(line)).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
        foreach (int pid in reported.Where(pid => pid > 1))
        {
            Kill(pid);
        }

        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
    }

    /// <summary>
    /// Waits (up to the guard) for the process started to exit. Not <see cref="Process.WaitForExitAsync"/>: that also
    /// waits for the end of its output, which a successor holding the inherited pipe keeps open.
    /// </summary>
    public async Task WaitForExitAsync()
    {
        DateTime deadline = DateTime.UtcNow + Timeouts.Guard;
        while (!_process.HasExited)
        {
            Assert.True(DateTime.UtcNow < deadline, $"pid {_process.Id} still runs. Output:\n{string.Join('\n', _lines)}");
            await Task.Delay(20);
        }
    }

    /// <summary>Waits (up to the guard) until <paramref name="pid"/> is gone.</summary>
    public static async Task AssertExitsAsync(int pid)
    {
        DateTime deadline = DateTime.UtcNow + Timeouts.Guard;
        while (Runs(pid))
        {
            Assert.True(DateTime.UtcNow < deadline, $"pid {pid} still runs");
            await Task.Delay(20);
        }
    }

    /// <summary>Whether the process runs: present and not a zombie waiting for its parent.</summary>
    public static bool Runs(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..][0] != 'Z';
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static void Kill(int pid)
    {
        try
        {
            using Process process = Process.GetProcessById(pid);
            process.Kill();
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            // Gone already.
        }
    }

    private void Keep(string? line)
    {
        if (line is not null)
        {
            _lines.Enqueue(line);
        }
    }

    [GeneratedRegex(@"child: generation \d+ pid (\d+) started")]
    private static partial Regex StartedLine();
}
