using System.Diagnostics;
using System.Globalization;
using AsyncSendFd.Hosting.Tests.Support;
using static AsyncSendFd.Hosting.Tests.Support.Timeouts;

namespace AsyncSendFd.Hosting.Tests;

/// <summary>
/// What systemd hears (<c>Type=notify-reload</c>): each generation's <c>READY=1</c> with <c>MAINPID=</c> and a status;
/// an upgrade's start as <c>RELOADING=1</c> with <c>MONOTONIC_USEC=</c>; its end as <c>READY=1</c> and a status line
/// with the result, from the old generation on failure, from the new one on success.
/// </summary>
public sealed class SystemdNotifyTests
{
    [Fact]
    public async Task AFailedUpgrade_IsReloadingThenReady_WithTheOutcomeInTheStatus()
    {
        string directory = Directory.CreateTempSubdirectory("asyncsendfd-notify-").FullName;
        using var systemd = new FakeSystemd(directory);
        await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady);
        Assert.Equal($"MAINPID={Environment.ProcessId}\nREADY=1\nSTATUS=Generation 1 (pid {Environment.ProcessId}) serving", await systemd.NextAsync());

        long before = await MonotonicMicrosecondsAsync();
        UpgradeResult result = await serving.Upgrader.UpgradeAsync().WaitAsync(Guard); // the harness's successor is /bin/false
        long after = await MonotonicMicrosecondsAsync();

        string reloading = await systemd.NextAsync();
        string[] lines = reloading.Split('\n');
        Assert.Equal("RELOADING=1", lines[0]);
        Assert.StartsWith("MONOTONIC_USEC=", lines[1], StringComparison.Ordinal);
        long stamp = long.Parse(lines[1]["MONOTONIC_USEC=".Length..], NumberStyles.None, CultureInfo.InvariantCulture);
        Assert.InRange(stamp, before, after); // CLOCK_MONOTONIC, in microseconds
        Assert.Equal(2, lines.Length);

        Assert.Equal(UpgradeOutcome.SuccessorExited, result.Outcome);
        Assert.Equal($"READY=1\nSTATUS=Upgrade failed (SuccessorExited): {result.Error}; generation 1 serves on", await systemd.NextAsync());
        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public async Task ASuccessfulUpgrade_IsReloading_ThenTheSuccessorTakesMainPidAndSaysReady()
    {
        string directory = Directory.CreateTempSubdirectory("asyncsendfd-notify-").FullName;
        using var systemd = new FakeSystemd(directory);
        await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady);
        await systemd.NextAsync(); // generation 1's READY=1

        Upgrader next = serving.NewSuccessor();
        await next.StartAsync();
        Assert.StartsWith("RELOADING=1\nMONOTONIC_USEC=", await systemd.NextAsync(), StringComparison.Ordinal);
        await next.ReadyAsync().WaitAsync(Guard);

        // Both generations are this process here: the pids are the same, the order is the protocol's.
        Assert.Equal($"MAINPID={Environment.ProcessId}", await systemd.NextAsync()); // the old one hands systemd over
        Assert.Equal($"MAINPID={Environment.ProcessId}\nREADY=1\nSTATUS=Upgraded: generation 2 (pid {Environment.ProcessId}) serving", await systemd.NextAsync());
        Directory.Delete(directory, recursive: true);
    }

    /// <summary>CLOCK_MONOTONIC as another process reads it (python's clock_gettime), in microseconds.</summary>
    private static async Task<long> MonotonicMicrosecondsAsync()
    {
        var start = new ProcessStartInfo("python3") { UseShellExecute = false, RedirectStandardOutput = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("import time; print(time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000)");
        using Process python = Process.Start(start)!;
        string output = await python.StandardOutput.ReadToEndAsync();
        await python.WaitForExitAsync();
        return long.Parse(output.Trim(), CultureInfo.InvariantCulture);
    }
}
