using System.Runtime.Versioning;
using System.Text.RegularExpressions;
using AsyncSendFd.IntegrationTests.Support;
using KestrelUpgrade.Driver;
using Xunit.Abstractions;

namespace AsyncSendFd.IntegrationTests;

/// <summary>
/// The KestrelUpgrade sample, published with NativeAOT, driven as an operator would under HTTP load from
/// clients that never retry (keep-alive, new-connection, slow): kill -HUP, a broken release, a successor of another user.
/// </summary>
/// <remarks>
/// The publish runs everywhere (osx-arm64 on macOS). The runs are Linux only for now: the sample's driver
/// (samples/KestrelUpgrade/Driver/Signals.cs, linked here and used by the sample's --demo) tells a running pid by
/// reading /proc/PID/stat, which macOS does not have, so on macOS no PID file ever names a "running" process and
/// every run times out. A portable IsRunning in the driver (kill(pid, 0) plus a zombie check) would lift these marks.
/// </remarks>
[Collection(KestrelUpgradeCollection.Name)]
public sealed partial class KestrelUpgradeTests(KestrelUpgradeFixture sample, ITestOutputHelper output)
{
    internal const string Driver = "the sample's driver reads /proc to tell a running pid (samples/KestrelUpgrade/Driver/Signals.cs)";

    private static readonly TimeSpan Phase = TimeSpan.FromSeconds(1);

    [Fact]
    public void Publish_WithNativeAot_ProducesANativeBinaryWithNoWarnings()
    {
        // The fixture published with TreatWarningsAsErrors and IlcTreatWarningsAsErrors: any trim or AOT warning failed it.
        Assert.True(File.Exists(sample.Binary), "the native binary was not produced");
        Assert.False(File.Exists(Path.Combine(sample.Directory, "KestrelUpgrade.dll")), "the publish was not native");
    }

    // Linux only: Signals.IsRunning reads /proc (see the remarks above).
    [LinuxFact(Driver)]
    [SupportedOSPlatform("linux")]
    public async Task TwoUpgradesInARow_UnderLoad_FailNoRequestAndEachGenerationServes()
    {
        using UpgradingServer server = await UpgradingServer.StartAsync(sample.Binary, output);
        var load = new HttpLoad(server.EndPoint);
        load.Start();
        await Task.Delay(Phase);

        for (int generation = 2; generation <= 3; generation++)
        {
            int pid = await server.UpgradeAsync();
            Assert.Equal(pid, ServerProcess.ReadPidFile(server.PidFile));
            Assert.Equal($"generation {generation} pid {pid}", await server.GetAsync());
            await Task.Delay(Phase);
        }

        await load.StopAsync();
        LoadReport report = Report(load, server);
        Assert.Empty(report.Failures);
        Assert.Equal([(1, server.Generations[0]), (2, server.Generations[1]), (3, server.Generations[2])],
            report.ServedBy.Select(s => (s.Generation, s.ProcessId)));
        Assert.True(report.Count(HttpLoad.Kind.KeepAlive) > 0 && report.Count(HttpLoad.Kind.NewConnection) > 0, "a kind of client made no request");
        Assert.True(report.SlowRequestsAcrossEveryUpgradeAnswered, "an upgrade had no 2 s request in flight across it, or one was not answered by the retiring generation");

        await server.StopAsync();
        Assert.All(server.Generations, pid => Assert.False(Signals.IsRunning(pid), $"generation pid {pid} still runs"));
        Assert.False(File.Exists(server.PidFile), "the last generation left its PID file behind");
        Assert.False(File.Exists(server.ControlSocket), "the last generation left its control socket behind");
    }

    // Linux only: Signals.IsRunning reads /proc (see the remarks above).
    [LinuxFact(Driver)]
    [SupportedOSPlatform("linux")]
    public async Task BrokenRelease_UnderLoad_IsRefusedWithNoFailedRequest_AndTheNextUpgradeSucceeds()
    {
        using UpgradingServer server = await UpgradingServer.StartAsync(sample.Binary, output);
        int first = server.Serving;
        var load = new HttpLoad(server.EndPoint);
        load.Start();
        await Task.Delay(Phase);

        string failure = await server.RefusedUpgradeAsync();
        Match refused = FailedSuccessor().Match(failure);
        Assert.True(refused.Success, failure);
        int brokenPid = int.Parse(refused.Groups["pid"].Value);
        await ServerProcess.WaitForExitAsync(brokenPid, UpgradingServer.StepTimeout);
        Assert.Equal(first, ServerProcess.ReadPidFile(server.PidFile));
        Assert.Equal($"generation 1 pid {first}", await server.GetAsync());
        await Task.Delay(Phase);

        // Logged, nothing changed, and the next upgrade can be tried.
        int second = await server.UpgradeAsync();
        Assert.Equal($"generation 2 pid {second}", await server.GetAsync());
        await Task.Delay(Phase);

        await load.StopAsync();
        LoadReport report = Report(load, server);
        Assert.Empty(report.Failures);
        Assert.DoesNotContain(report.ServedBy, s => s.ProcessId == brokenPid);
        Assert.Equal([1, 2], report.ServedBy.Select(s => s.Generation));
        Assert.True(report.SlowRequestsAcrossEveryUpgradeAnswered, "an upgrade had no 2 s request in flight across it, or one was not answered");

        await server.StopAsync();
        Assert.All(server.Generations, pid => Assert.False(Signals.IsRunning(pid), $"generation pid {pid} still runs"));
    }

    // Linux only: Signals.IsRunning reads /proc (see the remarks above).
    [LinuxFact(Driver)]
    [SupportedOSPlatform("linux")]
    public async Task UpgradeCommand_UnderLoad_ExitsWithTheOutcome_AndSaysWhyOneFailed()
    {
        using UpgradingServer server = await UpgradingServer.StartAsync(sample.Binary, output);
        int first = server.Serving;
        var load = new HttpLoad(server.EndPoint);
        load.Start();
        await Task.Delay(Phase);

        (int exitCode, string said) = await server.UpgradeCommandAsync(brokenRelease: true);
        Assert.True(exitCode == 1, said);
        Assert.Matches(@"upgrade failed \(SuccessorExited\), the serving generation carries on: the successor \(pid \d+\) exited before it was ready", said);
        Assert.Equal(first, ServerProcess.ReadPidFile(server.PidFile));

        (exitCode, said) = await server.UpgradeCommandAsync();
        Assert.True(exitCode == 0, said);
        Assert.Equal($"upgraded: pid {server.Serving} serves", said.Trim());
        Assert.Equal($"generation 2 pid {server.Serving}", await server.GetAsync());
        await Task.Delay(Phase);

        await load.StopAsync();
        LoadReport report = Report(load, server);
        Assert.Empty(report.Failures);
        Assert.True(report.SlowRequestsAcrossEveryUpgradeAnswered, "an upgrade had no 2 s request in flight across it, or one was not answered");

        await server.StopAsync();
        (exitCode, said) = Command.Run(sample.Binary, ["--upgrade", "--pid-file", server.PidFile], server.Directory, UpgradingServer.StepTimeout);
        Assert.True(exitCode == 1, said);
        Assert.Contains("upgrade not started: no serving generation answered on ", said);
    }

    // Linux only, and root only: setpriv (util-linux) starts the successor as uid 65534, which needs root; the run also
    // needs the driver's /proc (see the remarks above). Reported skipped as any other user, GitHub's runner included.
    [RootWithSetprivFact]
    [SupportedOSPlatform("linux")]
    public async Task Successor_RunningAsAnotherUser_IsRefusedByTheCredentialCheck()
    {
        using UpgradingServer server = await UpgradingServer.StartAsync(sample.Binary, output);
        var load = new HttpLoad(server.EndPoint);
        load.Start();

        // Let the filesystem admit anyone, so that what refuses is the kernel's credentials, not the file mode.
        File.SetUnixFileMode(server.ControlSocket, (UnixFileMode)0b110_110_110);
        (int exitCode, string log) = Command.Run(RootWithSetprivFactAttribute.Setpriv,
            ["--reuid=65534", "--regid=65534", "--clear-groups", sample.Binary, .. server.Arguments], server.Directory, UpgradingServer.StepTimeout);
        output.WriteLine(log);

        Assert.Equal(1, exitCode);
        Assert.Contains("refused to hand over: uid 65534 may not take over", log);
        await server.Process.WaitForLineAsync("(uid 65534, gid 65534): not an allowed user", 0, UpgradingServer.StepTimeout);
        Assert.Equal(server.Serving, ServerProcess.ReadPidFile(server.PidFile));
        Assert.Equal($"generation 1 pid {server.Serving}", await server.GetAsync());

        await load.StopAsync();
        Assert.Empty(Report(load, server).Failures);
        await server.StopAsync();
    }

    // Linux only: Signals.IsRunning reads /proc (see the remarks above).
    [LinuxFact(Driver)]
    [SupportedOSPlatform("linux")]
    public void Demo_UpgradesRefusesABrokenReleaseAndUpgradesAgain_WithNoFailedRequest()
    {
        (int exitCode, string log) = Command.Run(sample.Binary, ["--demo"], sample.Directory, TimeSpan.FromMinutes(2));
        output.WriteLine(log);

        Assert.True(exitCode == 0, log);
        Assert.Matches(@"served by generation 3 \(pid \d+\): [1-9]", log);
        Assert.Contains("failed requests: 0", log);
        Assert.Contains("upgrades complete: no request failed", log);
    }

    private LoadReport Report(HttpLoad load, UpgradingServer server)
    {
        var report = new LoadReport(load.Samples, server.Upgrades);
        foreach (string line in report.Lines())
        {
            output.WriteLine(line);
        }

        return report;
    }

    [GeneratedRegex(@"the successor \(pid (?<pid>\d+)\) exited before it was ready \(exit code 1\)")]
    private static partial Regex FailedSuccessor();
}
