using System.Diagnostics;
using System.Globalization;

namespace KestrelUpgrade.Driver;

/// <summary>
/// The first generation, started with its output captured; its successors inherit the same output, so every
/// generation's log lines arrive here. Every process it starts, however far down, belongs to its <see cref="Lineage"/>,
/// and disposal leaves none of them running.
/// </summary>
internal sealed class ServerProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly Action<string>? _echo;

    public ServerProcess(string fileName, IEnumerable<string> arguments, Action<string>? echo = null, Action<ProcessStartInfo>? customize = null)
    {
        var start = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        customize?.Invoke(start);
        Lineage.Adopt(start);
        _echo = echo;
        _process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        _process.OutputDataReceived += (_, e) => Add(e.Data);
        _process.ErrorDataReceived += (_, e) => Add(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>How long disposal waits for the output to close once every member of the lineage is killed.</summary>
    private static readonly TimeSpan OutputCloseTimeout = TimeSpan.FromSeconds(10);

    public int Id => _process.Id;

    /// <summary>Every generation and whatever they started.</summary>
    public Lineage Lineage { get; } = new();

    /// <summary>What disposal found still running and killed (empty if nothing was).</summary>
    public string KilledOnDispose { get; private set; } = "";

    public Process Process => _process;

    public string Output
    {
        get
        {
            lock (_lines)
            {
                return string.Join('\n', _lines);
            }
        }
    }

    /// <summary>Waits until some process has written a line containing <paramref name="text"/> after line <paramref name="from"/>.</summary>
    public async Task<int> WaitForLineAsync(string text, int from, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            lock (_lines)
            {
                int index = _lines.FindIndex(from, l => l.Contains(text, StringComparison.Ordinal));
                if (index >= 0)
                {
                    return index;
                }
            }

            await Task.Delay(20);
        }

        throw new TimeoutException($"No line with '{text}' within {timeout}:\n{Output}");
    }

    public int LineCount
    {
        get
        {
            lock (_lines)
            {
                return _lines.Count;
            }
        }
    }

    /// <summary>The pid in the PID file, once it names a running process other than <paramref name="notThis"/>.</summary>
    public static async Task<int> WaitForPidFileAsync(string path, int notThis, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            if (ReadPidFile(path) is int pid && pid != notThis && Signals.IsRunning(pid))
            {
                return pid;
            }

            await Task.Delay(20);
        }

        throw new TimeoutException($"{path} did not name a new running process within {timeout} (it says {ReadPidFile(path)}).");
    }

    public static int? ReadPidFile(string path)
    {
        try
        {
            return int.TryParse(File.ReadAllText(path).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) ? pid : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    public static async Task WaitForExitAsync(int processId, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (Signals.IsRunning(processId))
        {
            if (deadline.Elapsed > timeout)
            {
                throw new TimeoutException($"pid {processId} still runs after {timeout}.");
            }

            await Task.Delay(20);
        }
    }

    /// <summary>
    /// Kills every member of the lineage still running, reparented successors included, then waits (boundedly) for the
    /// last lines: the output closes only once no process holds it.
    /// </summary>
    public void Dispose()
    {
        KilledOnDispose = Lineage.KillRunning();
        using var outputClosed = new CancellationTokenSource(OutputCloseTimeout);
        try
        {
            _process.WaitForExitAsync(outputClosed.Token).GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
            KilledOnDispose += $"the output was still open {OutputCloseTimeout.TotalSeconds} s after the lineage was killed\n";
        }

        _process.Dispose();
    }

    private void Add(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_lines)
        {
            _lines.Add(line);
        }

        _echo?.Invoke(line);
    }
}
