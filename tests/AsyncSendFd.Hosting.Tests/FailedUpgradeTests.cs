using System.Net.Sockets;
using AsyncSendFd.Hosting.Tests.Support;
using static AsyncSendFd.Hosting.Tests.Support.Timeouts;

namespace AsyncSendFd.Hosting.Tests;

/// <summary>
/// A successor that is not ready in time, or dies between the offer and ready: the upgrade fails, the serving generation
/// keeps its descriptors and serves on, and the next upgrade goes through.
/// </summary>
public sealed class FailedUpgradeTests
{
    [Fact]
    public async Task UpgradeAsync_SuccessorNeverReady_FailsAfterReadyTimeout_TellsItToAbort_AndKeepsServing()
    {
        await using ServingGeneration serving = await ServingGeneration.StartAsync(ShortReady);
        using var children = ChildSuccessors.StartedBy(serving);

        Task<UpgradeResult> upgrade = serving.Upgrader.UpgradeAsync();
        (FakeSuccessor successor, Socket link) = await children.AcceptAsync();
        using (successor)
        using (link)
        {
            Assert.Equal(2, await successor.HelloAndOfferAsync()); // "http" and the control socket

            // Never ready: the next thing the serving generation says is Abort, with why.
            (byte type, string reason) = await successor.ReceiveTextAsync();
            Assert.Equal(Wire.Abort, type);
            Assert.Contains("not ready within", reason, StringComparison.Ordinal);

            UpgradeResult result = await upgrade.WaitAsync(Guard);
            Assert.False(result.Succeeded);
            Assert.Equal(UpgradeOutcome.NotReadyInTime, result.Outcome);
            Assert.Contains("was not ready within", result.Error, StringComparison.Ordinal);
            Assert.Contains("was told to exit; it was killed when it had not exited 5 s later", result.Error, StringComparison.Ordinal);
            Assert.NotEqual(0, result.SuccessorProcessId);
            Assert.NotEqual(Environment.ProcessId, result.SuccessorProcessId);
            await AssertExitedAsync(result.SuccessorProcessId); // killed, not left running
        }

        await serving.AssertStillServesAsync();
        await serving.AssertNextUpgradeSucceedsAsync();
    }

    [Fact]
    public async Task SuccessorConnectingOnItsOwn_NeverReady_IsAbandoned_AndTheNextUpgradeSucceeds()
    {
        await using ServingGeneration serving = await ServingGeneration.StartAsync(ShortReady);
        Upgrader late = serving.NewSuccessor();
        await late.StartAsync();
        Assert.Equal(2, late.Generation);
        Assert.Contains("http", late.InheritedNames);

        string reason = await late.Abandoned.WaitAsync(Guard);
        Assert.Contains("not ready within", reason, StringComparison.Ordinal);
        InvalidOperationException tooLate = await Assert.ThrowsAsync<InvalidOperationException>(() => late.ReadyAsync());
        Assert.Contains("abandoned", tooLate.Message, StringComparison.Ordinal);
        Assert.False(late.IsServing);
        await serving.Log.WaitForAsync("was not ready within");

        await serving.AssertStillServesAsync();
        await late.DisposeAsync();
        await serving.AssertNextUpgradeSucceedsAsync();
    }

    [Fact]
    public async Task UpgradeAsync_SuccessorDiesAfterTheOffer_Fails_AndKeepsServing()
    {
        await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady);
        using var children = ChildSuccessors.StartedBy(serving);

        Task<UpgradeResult> upgrade = serving.Upgrader.UpgradeAsync();
        (FakeSuccessor successor, Socket link) = await children.AcceptAsync();
        Assert.Equal(2, await successor.HelloAndOfferAsync());

        // The crash: every descriptor of the child's connection closes, and the child exits.
        successor.Dispose();
        link.Dispose();

        UpgradeResult result = await upgrade.WaitAsync(Guard);
        Assert.False(result.Succeeded);
        Assert.Equal(UpgradeOutcome.SuccessorExited, result.Outcome);
        Assert.Contains("exited before it was ready", result.Error, StringComparison.Ordinal);
        Assert.NotEqual(0, result.SuccessorProcessId);
        await serving.AssertStillServesAsync();

        // The next upgrade, again by a started child, goes through.
        await AssertUpgradeWithChildSucceedsAsync(serving, children);
    }

    [Fact]
    public async Task SuccessorConnectingOnItsOwn_DisposedBeforeReady_Fails_LeaksNothing_AndTheNextUpgradeSucceeds()
    {
        await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady);
        int failures = 0;

        async Task CrashAfterOffer()
        {
            Upgrader crashing = serving.NewSuccessor();
            await crashing.StartAsync();
            Assert.Contains("http", crashing.InheritedNames); // it holds the offered descriptors now
            await crashing.DisposeAsync();
            failures++;
            await WaitForFailuresAsync(serving.Log, "exited before it was ready", failures);
        }

        await CrashAfterOffer(); // warms up what is created once (the readiness engine, loaded code)
        int before = Fds.Baseline();
        await CrashAfterOffer();
        Assert.Equal(before, Fds.SettledAt(before));

        await serving.AssertStillServesAsync();
        await serving.AssertNextUpgradeSucceedsAsync();
    }

    [Fact]
    public async Task UpgradeAsync_ChildThatSaysReady_Succeeds()
    {
        // The control of the tests above: the same harness, a well-behaved child, and the upgrade goes through.
        await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady);
        using var children = ChildSuccessors.StartedBy(serving);
        await AssertUpgradeWithChildSucceedsAsync(serving, children);
        Assert.False(serving.Upgrader.IsServing);
    }

    internal static async Task AssertUpgradeWithChildSucceedsAsync(ServingGeneration serving, ChildSuccessors children)
    {
        Task<UpgradeResult> upgrade = serving.Upgrader.UpgradeAsync();
        (FakeSuccessor successor, Socket link) = await children.AcceptAsync();
        using (successor)
        using (link)
        {
            Assert.Equal(2, await successor.HelloAndOfferAsync());
            await successor.SendAsync(Wire.Signal(Wire.Ready));
            (byte type, _) = await successor.ReceiveTextAsync();
            Assert.Equal(Wire.Commit, type);
            UpgradeResult result = await upgrade.WaitAsync(Guard);
            Assert.True(result.Succeeded, result.Error);
            Assert.Equal(UpgradeOutcome.Succeeded, result.Outcome);
            await serving.Upgrader.Retired.WaitAsync(Guard);
        }
    }

    internal static async Task WaitForFailuresAsync(ListLogger log, string text, int count)
    {
        DateTime deadline = DateTime.UtcNow + Guard;
        while (log.Lines.Count(line => line.Contains("Upgrade failed", StringComparison.Ordinal) && line.Contains(text, StringComparison.Ordinal)) < count)
        {
            Assert.True(DateTime.UtcNow < deadline, $"Not {count} failures with '{text}'. Logged:\n{string.Join('\n', log.Lines)}");
            await Task.Delay(20);
        }
    }

    private static async Task AssertExitedAsync(int processId)
    {
        DateTime deadline = DateTime.UtcNow + Guard;
        while (Directory.Exists($"/proc/{processId}"))
        {
            Assert.True(DateTime.UtcNow < deadline, $"pid {processId} still runs");
            await Task.Delay(20);
        }
    }
}
