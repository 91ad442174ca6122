using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using KestrelUpgrade.Driver;

namespace KestrelUpgrade;

/// <summary>
/// --demo: what an operator would do by hand. Starts a server, drives HTTP load at it, sends SIGHUP twice
/// (two upgrades) and once more with a broken release in place (refused), and reports what the clients saw.
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
        var url = new Uri($"http://127.0.0.1:{FreePort()}/");
        try
        {
            (string program, string[] prefix) = ThisProgram();
            using var server = new ServerProcess(program, [.. prefix, "--urls", url.ToString().TrimEnd('/'), "--pid-file", pidFile, "--fail-if-exists", broken],
                echo: line => Console.WriteLine("  | " + line));
            int serving = await ServerProcess.WaitForPidFileAsync(pidFile, notThis: 0, StepTimeout);
            Say($"generation 1 (pid {serving}) serves {url}; starting 2 keep-alive and 2 new-connection clients");
            var load = new HttpLoad(url);
            load.Start();
            var upgrades = new List<(DateTime, DateTime)>();
            var pids = new List<int> { serving };

            for (int upgrade = 1; upgrade <= 2; upgrade++)
            {
                await Task.Delay(Phase);
                Say($"kill -HUP {serving}: upgrade {upgrade}");
                DateTime started = DateTime.UtcNow;
                Signals.Send(serving, Signals.SIGHUP);
                int next = await ServerProcess.WaitForPidFileAsync(pidFile, notThis: serving, StepTimeout);
                await ServerProcess.WaitForExitAsync(serving, StepTimeout);
                upgrades.Add((started, DateTime.UtcNow));
                Say($"PID file names pid {next}; pid {serving} has exited");
                serving = next;
                pids.Add(serving);
            }

            await Task.Delay(Phase);
            File.WriteAllText(broken, "this release does not start\n");
            Say($"a broken release is in place; kill -HUP {serving}: upgrade 3 must be refused");
            DateTime brokenStarted = DateTime.UtcNow;
            int from = server.LineCount;
            Signals.Send(serving, Signals.SIGHUP);
            await server.WaitForLineAsync("Upgrade failed", from, StepTimeout);
            upgrades.Add((brokenStarted, DateTime.UtcNow));
            bool kept = ServerProcess.ReadPidFile(pidFile) == serving && Signals.IsRunning(serving);
            Say(kept ? $"refused: pid {serving} still serves and the PID file still names it" : "the refused upgrade changed who serves");
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

            bool ok = report.Failures.Count == 0 && report.ServedBy.Count == 3 && kept && oldGone;
            Console.WriteLine(ok ? "upgrades complete: no request failed" : "upgrades FAILED");
            return ok ? 0 : 1;
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
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
