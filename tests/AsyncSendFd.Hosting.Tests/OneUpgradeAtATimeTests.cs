using System.Net.Sockets;
using AsyncSendFd.Hosting.Tests.Support;
using static AsyncSendFd.Hosting.Tests.Support.Timeouts;

namespace AsyncSendFd.Hosting.Tests;

/// <summary>
/// One upgrade at a time: a second request while one runs fails at once as a result ("another upgrade is running"),
/// starts nothing, and leaves the running one to finish; a new generation takes none until its predecessor has exited.
/// </summary>
public sealed class OneUpgradeAtATimeTests
{
    [Fact]
    public async Task WhileASuccessorIsBeingHandedOver_UpgradeAsyncAndOtherSuccessorsAreTurnedAway()
    {
        await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady);
        Upgrader pending = serving.NewSuccessor();
        await pending.StartAsync(); // has the offer, not ready yet: the upgrade runs

        UpgradeResult second = await serving.Upgrader.UpgradeAsync().WaitAsync(Guard);
        Assert.False(second.Succeeded);
        Assert.Equal(UpgradeOutcome.AlreadyInProgress, second.Outcome);
        Assert.Equal("another upgrade is running", second.Error);
        Assert.Equal(0, second.SuccessorProcessId);
        Assert.Equal(0, serving.SuccessorsStarted); // no process was started for it

        Upgrader third = serving.NewSuccessor();
        InvalidOperationException refused = await Assert.ThrowsAsync<InvalidOperationException>(() => third.StartAsync());
        Assert.Contains("another upgrade is running", refused.Message, StringComparison.Ordinal);

        // The running upgrade is untouched by both and completes.
        await pending.ReadyAsync().WaitAsync(Guard);
        await serving.Upgrader.Retired.WaitAsync(Guard);
        Assert.True(pending.IsServing);
    }

    [Fact]
    public async Task UpgradeAsync_WhileUpgradeAsyncRuns_FailsAtOnce_AndTheFirstCompletes()
    {
        await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady);
        using var children = new ChildSuccessors(serving.Directory, serving.SocketPath);
        int started = 0;
        serving.Options.SuccessorStartInfo = () =>
        {
            started++;
            return children.StartInfo();
        };

        Task<UpgradeResult> first = serving.Upgrader.UpgradeAsync();
        (FakeSuccessor successor, Socket link) = await children.AcceptAsync();
        using (successor)
        using (link)
        {
            Assert.Equal(2, await successor.HelloAndOfferAsync());

            UpgradeResult second = await serving.Upgrader.UpgradeAsync().WaitAsync(Guard);
            Assert.False(second.Succeeded);
            Assert.Equal(UpgradeOutcome.AlreadyInProgress, second.Outcome);
        Assert.Equal("another upgrade is running", second.Error);
            Assert.Equal(1, started);

            await successor.SendAsync(Wire.Signal(Wire.Ready));
            Assert.Equal(Wire.Commit, (await successor.ReceiveTextAsync()).Type);
            Assert.True((await first.WaitAsync(Guard)).Succeeded);
        }
    }

    [Fact]
    public async Task NoUpgrade_FromARetiredGeneration_NorFromItsSuccessorBeforeThePredecessorExited()
    {
        await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady);
        Upgrader next = serving.NewSuccessor();
        await next.StartAsync();
        await next.ReadyAsync().WaitAsync(Guard);
        await serving.Upgrader.Retired.WaitAsync(Guard);

        UpgradeResult fromRetired = await serving.Upgrader.UpgradeAsync().WaitAsync(Guard);
        Assert.False(fromRetired.Succeeded);
        Assert.Equal(UpgradeOutcome.NotServing, fromRetired.Outcome);
        Assert.Contains("not serving (retired)", fromRetired.Error, StringComparison.Ordinal);

        // The retired generation lives on in this process (its connection stays open until exit): the new one waits.
        Assert.False(next.PreviousGenerationExited.IsCompleted);
        UpgradeResult tooSoon = await next.UpgradeAsync().WaitAsync(Guard);
        Assert.False(tooSoon.Succeeded);
        Assert.Equal(UpgradeOutcome.PreviousGenerationDraining, tooSoon.Outcome);
        Assert.Contains("still draining", tooSoon.Error, StringComparison.Ordinal);
        Assert.Equal(0, serving.SuccessorsStarted);
    }
}
