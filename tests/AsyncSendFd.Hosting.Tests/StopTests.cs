using System.Diagnostics;
using System.Net.Sockets;
using AsyncSendFd.Hosting.Tests.Support;
using static AsyncSendFd.Hosting.Tests.Support.Timeouts;

namespace AsyncSendFd.Hosting.Tests;

/// <summary>
/// A stop (the host's SIGTERM, <see cref="Upgrader.DisposeAsync"/>) while an upgrade is in flight wins: the upgrade is
/// abandoned, the successor told to exit (this generation's child killed if it does not), nothing keeps serving, and
/// the control socket is gone for good.
/// </summary>
public sealed class StopTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Stop_WhileTheChildIsHandedOver_AbandonsTheUpgrade_TellsItToExit_AndKillsItIfItDoesNot(bool childExitsWhenTold)
    {
        await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady, options => options.PidFile = Path.Combine(Path.GetDirectoryName(options.SocketPath)!, "app.pid"));
        using var children = ChildSuccessors.StartedBy(serving);

        Task<UpgradeResult> upgrade = serving.Upgrader.UpgradeAsync();
        (FakeSuccessor successor, Socket link) = await children.AcceptAsync();
        using (successor)
        using (link)
        {
            Assert.Equal(2, await successor.HelloAndOfferAsync());
            Task stop = serving.Upgrader.DisposeAsync().AsTask();

            (byte type, string reason) = await successor.ReceiveTextAsync();
            Assert.Equal(Wire.Abort, type);
            Assert.Equal("the serving generation is stopping", reason);
            if (childExitsWhenTold)
            {
                link.Dispose();
            }

            // Ready too late changes nothing: no commit comes.
            await successor.SendAsync(Wire.Signal(Wire.Ready));
            UpgradeResult result = await upgrade.WaitAsync(Guard);
            Assert.Equal(UpgradeOutcome.Stopping, result.Outcome);
            Assert.Contains("this generation is stopping, so the upgrade was abandoned: the successor", result.Error, StringComparison.Ordinal);
            Assert.Contains(childExitsWhenTold ? "was told to exit; it exited" : "it was killed when it had not exited 5 s later", result.Error, StringComparison.Ordinal);
            await AssertExitedAsync(result.SuccessorProcessId);
            Assert.Null(await ReceiveOrResetAsync(successor));

            await stop.WaitAsync(Guard);
        }

        AssertGoneForGood(serving);
    }

    [Fact]
    public async Task Stop_BeforeTheChildConnected_KillsIt_AndLeavesNothingToConnectTo()
    {
        await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady, options =>
            options.SuccessorStartInfo = () => new ProcessStartInfo("sleep", "60") { UseShellExecute = false });

        Task<UpgradeResult> upgrade = serving.Upgrader.UpgradeAsync();
        await Task.Delay(200); // the child runs and has not connected (it never will)
        Assert.False(upgrade.IsCompleted);
        await serving.Upgrader.DisposeAsync().AsTask().WaitAsync(Guard);

        UpgradeResult result = await upgrade.WaitAsync(Guard);
        Assert.Equal(UpgradeOutcome.Stopping, result.Outcome);
        Assert.Contains("had not connected yet and was killed", result.Error, StringComparison.Ordinal);
        await AssertExitedAsync(result.SuccessorProcessId);
        AssertGoneForGood(serving);
    }

    [Fact]
    public async Task Stop_WhileASuccessorThatConnectedOnItsOwnIsNotReady_AbandonsIt_AndItNeverServes()
    {
        await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady);
        Upgrader late = serving.NewSuccessor();
        await late.StartAsync();
        Assert.Contains("http", late.InheritedNames);

        await serving.Upgrader.DisposeAsync().AsTask().WaitAsync(Guard);
        Assert.Equal("the serving generation is stopping", await late.Abandoned.WaitAsync(Guard));
        InvalidOperationException e = await Assert.ThrowsAsync<InvalidOperationException>(() => late.ReadyAsync());
        Assert.Contains("abandoned this successor: the serving generation is stopping", e.Message, StringComparison.Ordinal);
        Assert.False(late.IsServing);
        string logged = await serving.Log.WaitForAsync("this generation is stopping, so the upgrade was abandoned");
        Assert.Contains("it is not this generation's child", logged, StringComparison.Ordinal);
        AssertGoneForGood(serving);
    }

    [Fact]
    public async Task UpgradeAsync_OnceStopped_StartsNothing()
    {
        await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady);
        await serving.Upgrader.DisposeAsync();

        UpgradeResult result = await serving.Upgrader.UpgradeAsync().WaitAsync(Guard);
        Assert.Equal(UpgradeOutcome.NotServing, result.Outcome);
        Assert.Equal("this generation is not serving (stopped)", result.Error);
        Assert.Equal(0, serving.SuccessorsStarted);
    }

    /// <summary>Stopped for good: no control socket to connect to (a successor starting now is the first), no PID file, no token file.</summary>
    private static void AssertGoneForGood(ServingGeneration serving)
    {
        Assert.False(serving.Upgrader.IsServing);
        Assert.False(File.Exists(serving.SocketPath));
        Assert.False(File.Exists(serving.PidPath));
        Assert.False(File.Exists(serving.TokenPath));
    }

    private static async Task<byte?> ReceiveOrResetAsync(FakeSuccessor successor)
    {
        try
        {
            using FdMessage? message = await successor.ReceiveAsync();
            return message is null ? null : Wire.TypeOf(message);
        }
        catch (SocketException)
        {
            return null;
        }
    }

    private static async Task AssertExitedAsync(int processId)
    {
        Assert.NotEqual(0, processId);
        DateTime deadline = DateTime.UtcNow + Guard;
        while (Directory.Exists($"/proc/{processId}"))
        {
            Assert.True(DateTime.UtcNow < deadline, $"pid {processId} still runs");
            await Task.Delay(20);
        }
    }
}
