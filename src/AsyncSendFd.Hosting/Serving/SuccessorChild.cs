using System.ComponentModel;
using System.Diagnostics;
using AsyncSendFd.Hosting.Internal;
using AsyncSendFd.Hosting.Protocol;

namespace AsyncSendFd.Hosting.Serving;

/// <summary>The successor process an upgrade started: this generation's child, which it may kill.</summary>
internal sealed class SuccessorChild : IDisposable
{
    private readonly Process _process;

    private SuccessorChild(Process process) => _process = process;

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Starts <see cref="UpgradeOptions.SuccessorStartInfo"/>, by default this program again, with its one-time token.</summary>
    /// <returns>The child, or why it could not be started.</returns>
    public static (SuccessorChild? Child, string? Error) Start(UpgradeOptions options, string token)
    {
        try
        {
            ProcessStartInfo start = (options.SuccessorStartInfo ?? SuccessorProcess.SameProgram)();
            start.Environment[UpgradeWire.TokenVariable] = token;
            Process process = Process.Start(start) ?? throw new InvalidOperationException("Process.Start returned no process.");
            return (new SuccessorChild(process), null);
        }
        catch (Exception e) when (e is Win32Exception or InvalidOperationException or IOException)
        {
            return (null, e.Message);
        }
    }

    public Task WaitForExitAsync(CancellationToken cancellationToken) => _process.WaitForExitAsync(cancellationToken);

    /// <summary>Once it was told to exit: waits up to <paramref name="grace"/> for it to, then kills it. Says which, for the result.</summary>
    public async Task<string> EndAsync(TimeSpan grace)
    {
        using var timeout = new CancellationTokenSource(grace);
        try
        {
            await _process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            return $"it exited{ExitCodeText()}";
        }
        catch (OperationCanceledException)
        {
            Kill();
            return $"it was killed when it had not exited {grace.TotalSeconds:0.#} s later";
        }
    }

    /// <summary>Kills the child (if it still runs) and returns its process id, for the result.</summary>
    public int Kill()
    {
        try
        {
            _process.Kill();
        }
        catch (InvalidOperationException)
        {
            // Exited already.
        }

        return _process.Id;
    }

    /// <summary>" (exit code N)" once it has exited (it is given two seconds), for the log; empty otherwise.</summary>
    public string ExitCodeText() => _process.WaitForExit(TimeSpan.FromSeconds(2)) ? $" (exit code {_process.ExitCode})" : "";

    public void Dispose() => _process.Dispose();
}
