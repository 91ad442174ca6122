using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using KestrelUpgrade.Driver;

namespace KestrelUpgrade;

/// <summary>
/// --demo: what an operator would do by hand, watched by clients that never retry. Starts a server, drives HTTP load
/// at it (3 clients opening a new connection per request, 2 keep-alive clients, 2-second requests always in flight),
/// then upgrades it (kill -HUP), has a broken release refused and upgrades it again (KestrelUpgrade --upgrade, which
/// reports each outcome); reports what the clients saw.
/// </summary>
internal static class Demo
{
    private static readonly TimeSpan Phase = TimeSpan.FromSeconds(1.5);
    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(60);

    public static async Task<int> RunAsync()
    {
        string directory = Path.Combine(Path.GetTempPath(), $"kestrelupgrade-demo-{Environment.ProcessId}");
        Directory.CreateDirectory(directory);
        string pidFile = Path.Combine(directory, "app.pid");
        string broken = Path.Combine(directory, "broken-release");
        var endPoint = new IPEndPoint(IPAddress.Loopback, FreePort());
        try
        {
            (string program, string[] prefix) = ThisProgram();
            using var server = new ServerProcess(program, [.. prefix, "--urls", $"http://{endPoint}", "--pid-file", pidFile, "--fail-if-exists", broken],
                echo: line => Console.WriteLine("  | " + line));
            int serving = await ServerProcess.WaitForPidFileAsync(pidFile, notThis: 0, StepTimeout);
            Say($"generation 1 (pid {serving}) serves http://{endPoint}/; starting clients that never retry: 2 keep-alive, 3 on new connections, 4 taking turns at GET /slow?ms=2000");
            var load = new HttpLoad(endPoint);
            load.Start();
            var upgrades = new List<UpgradeSpan>();
            var pids = new List<int> { serving };
            bool kept = false;
            bool reported = true;

            // kill -HUP for the first upgrade; KestrelUpgrade --upgrade, which waits for the outcome, for the others.
            foreach ((bool brokenRelease, bool command) in new[] { (false, false), (true, true), (false, true) })
            {
                await Task.Delay(Phase);
                if (brokenRelease)
                {
                    File.WriteAllText(broken, "this release does not start\n");
                }

                string action = command ? "KestrelUpgrade --upgrade" : $"kill -HUP {serving}";
                Say($"{action}: {(brokenRelease ? "a broken release is in place, the upgrade must be refused" : "upgrade")}");
                DateTime started = DateTime.UtcNow;
                int from = server.LineCount;
                Task<(int ExitCode, string Output)> outcome = command
                    ? RunAsync(program, [.. prefix, "--upgrade", "--pid-file", pidFile])
                    : SignalAsync(serving);
                if (brokenRelease)
                {
                    await server.WaitForLineAsync("Upgrade failed", from, StepTimeout);
                    upgrades.Add(new UpgradeSpan(pids.Count, started, DateTime.UtcNow, DateTime.UtcNow, Refused: true));
                    (int exitCode, string said) = await outcome;
                    Say($"{action} exited with {exitCode}: {said}");
                    reported &= exitCode != 0;
                    File.Delete(broken);
                    kept = ServerProcess.ReadPidFile(pidFile) == serving && Signals.IsRunning(serving);
                    Say(kept ? $"refused: pid {serving} still serves and the PID file still names it" : "the refused upgrade changed who serves");
                    continue;
                }

                int next = await ServerProcess.WaitForPidFileAsync(pidFile, notThis: serving, StepTimeout);
                DateTime tookEffect = DateTime.UtcNow;
                if (command)
                {
                    (int exitCode, string said) = await outcome;
                    Say($"{action} exited with {exitCode}: {said}");
                    reported &= exitCode == 0;
                }

                Say($"PID file names pid {next}; pid {serving} drains");
                await ServerProcess.WaitForExitAsync(serving, StepTimeout);
                upgrades.Add(new UpgradeSpan(pids.Count, started, tookEffect, DateTime.UtcNow));
                Say($"pid {serving} has exited");
                serving = next;
                pids.Add(serving);
            }

            await Task.Delay(Phase);
            await load.StopAsync();
            Signals.Send(serving, Signals.SIGTERM);
            await ServerProcess.WaitForExitAsync(serving, StepTimeout);
            bool oldGone = pids.All(pid => !Signals.IsRunning(pid));

            var report = new LoadReport(load.Samples, upgrades);
            Console.WriteLine();
            foreach (string line in report.Lines())
            {
                Console.WriteLine(line);
            }

            bool ok = report.Failures.Count == 0 && report.ServedBy.Count == 3 && kept && reported && oldGone && report.SlowRequestsAcrossEveryUpgradeAnswered;
            Console.WriteLine(ok ? "upgrades complete: no request failed" : "upgrades FAILED");
            return ok ? 0 : 1;
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static Task<(int ExitCode, string Output)> SignalAsync(int processId)
    {
        Signals.Send(processId, Signals.SIGHUP);
        return Task.FromResult((0, ""));
    }

    /// <summary>Runs this program to completion (here: --upgrade), returning its exit code and what it printed.</summary>
    private static async Task<(int ExitCode, string Output)> RunAsync(string program, string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, ((await output) + (await error)).Trim());
    }

    private static (string Program, string[] Prefix) ThisProgram()
    {
        string path = Environment.ProcessPath!;
        return Path.GetFileNameWithoutExtension(path) == "dotnet"
            ? (path, [Path.Combine(AppContext.BaseDirectory, "KestrelUpgrade.dll")])
            : (path, []);
    }

    private static int FreePort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    private static void Say(string message) => Console.WriteLine($"[{DateTime.Now:HH:mm:ss.fff}] demo: {message}");
}
