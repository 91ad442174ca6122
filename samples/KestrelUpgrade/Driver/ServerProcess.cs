using System.Diagnostics;
using System.Globalization;

namespace KestrelUpgrade.Driver;

/// <summary>
/// The first generation, started with its output captured; its successors inherit the same output, so every
/// generation's log lines arrive here.
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
        _echo = echo;
        _process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        _process.OutputDataReceived += (_, e) => Add(e.Data);
        _process.ErrorDataReceived += (_, e) => Add(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public int Id => _process.Id;

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

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.WaitForExit();
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
