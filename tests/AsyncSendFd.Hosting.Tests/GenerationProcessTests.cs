using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using AsyncSendFd.Hosting.Tests.Support;
using static AsyncSendFd.Hosting.Tests.Support.Timeouts;

namespace AsyncSendFd.Hosting.Tests;

/// <summary>
/// Whole generations as processes under the Generic Host (this assembly's host mode, options from the command line
/// through the <c>Upgrades</c> configuration section): PID 1, a retired generation that will not stop, SIGTERM
/// during an upgrade.
/// </summary>
public sealed partial class GenerationProcessTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("asyncsendfd-hosting-").FullName;

    private string SocketPath => Path.Combine(_directory, "upgrade.sock");

    private string EndpointFile => Path.Combine(_directory, "port");

    [Fact]
    public async Task AsPid1_UpgradesAreRefused_WithTheReason_AndTheGenerationServesOn()
    {
        // The container case: the service is its pid namespace's first process.
        string[] unshare = Identity.UserId == 0 ? ["unshare", "--pid", "--fork"] : ["unshare", "--user", "--map-root-user", "--pid", "--fork"];
        using HostProcess host = HostProcess.Start(Configuration(), wrapper: unshare);
        await host.WaitForLineAsync("child: generation 1 pid 1 started");
        await host.WaitForLineAsync("Upgrades will be refused: this process is PID 1");

        UpgradeResult result = await Upgrader.RequestUpgradeAsync(SocketPath).WaitAsync(Guard);
        Assert.Equal(UpgradeOutcome.RunningAsPid1, result.Outcome);
        Assert.Contains("this process is PID 1 (a container's main process)", result.Error, StringComparison.Ordinal);
        Assert.Contains("run it under a supervisor that outlives generations", result.Error, StringComparison.Ordinal);
        await host.WaitForLineAsync("Upgrade failed, this generation keeps serving: this process is PID 1");
        Assert.Equal("generation 1 pid 1", await AskAsync());
    }

    [Fact]
    public async Task ARetiredGenerationThatDoesNotStop_IsKilledAtRetiredExitDeadline()
    {
        using HostProcess host = HostProcess.Start(Configuration(("Child:HangOnStop", "true"), ("Upgrades:RetiredExitDeadline", "00:00:02")));
        int first = await host.PidOfGenerationAsync(1);
        await host.WaitForLineAsync("is serving");

        UpgradeResult result = await Upgrader.RequestUpgradeAsync(SocketPath).WaitAsync(Guard);
        Assert.True(result.Succeeded, result.Error);
        var retired = Stopwatch.StartNew();
        await host.WaitForLineAsync("Retired: stopping gracefully; killed if still running 00:00:02 from now");
        await host.WaitForLineAsync($"child: pid {first} hangs in StopAsync");

        await host.WaitForExitAsync();
        Assert.True(retired.Elapsed >= TimeSpan.FromSeconds(1.5), $"killed after {retired.Elapsed}, before its deadline");
        Assert.Equal(128 + 9, host.Process.ExitCode); // SIGKILL
        await host.WaitForLineAsync("Retired generation did not stop within 00:00:02; killing this process");

        // Its successor serves on.
        Assert.Equal($"generation 2 pid {result.SuccessorProcessId}", await AskAsync());
    }

    [Fact]
    public async Task ARetiredGeneration_ByDefault_MayTakeTheHostsShutdownTimeoutPlus10Seconds()
    {
        using HostProcess host = HostProcess.Start(Configuration(("shutdownTimeoutSeconds", "3")));
        int first = await host.PidOfGenerationAsync(1);
        await host.WaitForLineAsync("is serving");

        UpgradeResult result = await Upgrader.RequestUpgradeAsync(SocketPath).WaitAsync(Guard);
        Assert.True(result.Succeeded, result.Error);
        await host.WaitForLineAsync("Retired: stopping gracefully; killed if still running 00:00:13 from now");
        await host.WaitForExitAsync();
        Assert.Equal(0, host.Process.ExitCode); // it stopped in time: not killed
        Assert.False(HostProcess.Runs(first));
    }

    [Fact]
    public async Task Sigterm_WhileTheSuccessorStarts_StopsBoth_AndNothingServes()
    {
        string slow = Path.Combine(_directory, "slow");
        using HostProcess host = HostProcess.Start(Configuration(("Child:SlowIfExists", slow)));
        int first = await host.PidOfGenerationAsync(1);
        await host.WaitForLineAsync("is serving");
        Assert.Equal($"generation 1 pid {first}", await AskAsync());

        File.WriteAllText(slow, "");
        await HostProcess.SignalAsync(first, "HUP");
        int successor = int.Parse(SlowLine().Match(await host.WaitForLineAsync("starts slowly")).Groups[1].Value, CultureInfo.InvariantCulture);
        await HostProcess.SignalAsync(first, "TERM");

        await host.WaitForExitAsync();
        await HostProcess.AssertExitsAsync(successor);
        await host.WaitForLineAsync("this generation is stopping, so the upgrade was abandoned");
        await host.WaitForLineAsync("The serving generation abandoned this successor: the serving generation is stopping");
        Assert.False(File.Exists(SocketPath));
        SocketException refused = await Assert.ThrowsAnyAsync<SocketException>(AskAsync);
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
    }

    [Fact]
    public async Task InAContainer_UnderTheSupervisorScript_UpgradesWork_RetiredGenerationsAreReaped_AndSigtermReachesTheServingOne()
    {
        string pidFile = Path.Combine(_directory, "app.pid");
        string script = Path.Combine(RepositoryRoot(), "src", "AsyncSendFd.Hosting", "Container", "supervise-generations.sh");
        // With its own /proc, as a container has: the script reads the processes it supervises there.
        string[] unshare = Identity.UserId == 0 ? ["unshare", "--pid", "--fork", "--mount-proc"] : ["unshare", "--user", "--map-root-user", "--pid", "--fork", "--mount-proc"];
        using HostProcess host = HostProcess.Start(Configuration(("Upgrades:PidFile", pidFile)), wrapper: [.. unshare, "sh", script, pidFile]);
        await host.WaitForLineAsync("child: generation 1 pid ");
        await host.WaitForLineAsync("is serving");
        int supervisor = ChildrenOf(host.Process.Id).Single(); // PID 1 of the namespace, as this namespace sees it

        for (int generation = 2; generation <= 3; generation++)
        {
            UpgradeResult result = await Upgrader.RequestUpgradeAsync(SocketPath).WaitAsync(Guard);
            Assert.True(result.Succeeded, result.Error);
            await AskUntilAsync($"generation {generation} pid "); // the retired one answers until it has stopped accepting

            // The retired generation exits and is reaped: the supervisor is left with the serving generation alone (and its sleep).
            await WaitUntilAsync(() => host.Lines.Count(line => line.Contains("The previous generation", StringComparison.Ordinal) && line.EndsWith("has exited", StringComparison.Ordinal)) == generation - 1);
            await WaitUntilAsync(() => ChildrenOf(supervisor).Count(child => Command(child) != "sleep") == 1 && !Zombies(supervisor));
            Assert.True(HostProcess.Runs(supervisor));
        }

        await HostProcess.SignalAsync(supervisor, "TERM");
        await host.WaitForExitAsync();
        await host.WaitForLineAsync("child: generation 3 pid ");
        Assert.Contains(host.Lines, line => line.Contains("generation 3 pid", StringComparison.Ordinal) && line.EndsWith("stopped", StringComparison.Ordinal));
        Assert.False(File.Exists(SocketPath)); // stopped for good
        Assert.False(File.Exists(pidFile));
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static int[] ChildrenOf(int pid) =>
        [.. Directory.GetDirectories("/proc").Select(Path.GetFileName).Where(name => name!.All(char.IsAsciiDigit))
            .Where(name => ParentOf(name!) == pid).Select(name => int.Parse(name!, CultureInfo.InvariantCulture))];

    private static string Command(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/comm").Trim();
        }
        catch (IOException)
        {
            return "";
        }
    }

    private static bool Zombies(int pid) => ChildrenOf(pid).Any(child => !HostProcess.Runs(child));

    private static int ParentOf(string pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return int.Parse(stat[(stat.LastIndexOf(')') + 4)..].Split(' ')[0], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        DateTime deadline = DateTime.UtcNow + Guard;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not come true within the guard");
            await Task.Delay(50);
        }
    }

    private static string RepositoryRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "AsyncSendFd.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No directory above {AppContext.BaseDirectory} contains AsyncSendFd.sln.");
    }

    private KeyValuePair<string, string>[] Configuration(params (string Key, string Value)[] more) =>
        [new("Upgrades:SocketPath", SocketPath), new("Child:EndpointFile", EndpointFile), .. more.Select(m => new KeyValuePair<string, string>(m.Key, m.Value))];

    /// <summary>What the generation that serves the shared TCP listener answers.</summary>
    private async Task<string> AskAsync()
    {
        using var guard = new CancellationTokenSource(Guard);
        while (!File.Exists(EndpointFile) || new FileInfo(EndpointFile).Length == 0)
        {
            await Task.Delay(20, guard.Token);
        }

        int port = int.Parse(await File.ReadAllTextAsync(EndpointFile, guard.Token), CultureInfo.InvariantCulture);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), guard.Token);
        using var reader = new StreamReader(new NetworkStream(client));
        return await reader.ReadLineAsync(guard.Token) ?? "";
    }

    private async Task AskUntilAsync(string prefix)
    {
        DateTime deadline = DateTime.UtcNow + Guard;
        string answer;
        while (!(answer = await AskAsync()).StartsWith(prefix, StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, $"still '{answer}', not '{prefix}...'");
            await Task.Delay(50);
        }
    }

    [GeneratedRegex(@"child: pid (\d+) starts slowly")]
    private static partial Regex SlowLine();
}
