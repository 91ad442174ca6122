using System.Net.Sockets;
using AsyncSendFd.Hosting.Tests.Support;
using static AsyncSendFd.Hosting.Tests.Support.Timeouts;

namespace AsyncSendFd.Hosting.Tests;

/// <summary>
/// <see cref="Upgrader.RequestUpgradeAsync"/>: a command-line tool asks the serving generation for an upgrade over the
/// control socket and hears how it ended; it is allowed as a successor would be (the kernel's credentials).
/// </summary>
public sealed class UpgradeRequestTests
{
    [Fact]
    public async Task Request_StartsTheSuccessor_AndAnswersOnceItIsReady()
    {
        await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady);
        using var children = ChildSuccessors.StartedBy(serving);

        Task<UpgradeResult> request = Upgrader.RequestUpgradeAsync(serving.SocketPath);
        (FakeSuccessor successor, Socket link) = await children.AcceptAsync();
        using (successor)
        using (link)
        {
            Assert.Equal(2, await successor.HelloAndOfferAsync());
            Assert.False(request.IsCompleted); // not before the successor is ready
            await successor.SendAsync(Wire.Signal(Wire.Ready));
            Assert.Equal(Wire.Commit, (await successor.ReceiveTextAsync()).Type);

            UpgradeResult result = await request.WaitAsync(Guard);
            Assert.Equal(UpgradeOutcome.Succeeded, result.Outcome);
            Assert.True(result.Succeeded);
            Assert.Null(result.Error);
            Assert.NotEqual(0, result.SuccessorProcessId);
            Assert.NotEqual(Environment.ProcessId, result.SuccessorProcessId);
            await serving.Upgrader.Retired.WaitAsync(Guard);
        }
    }

    [Fact]
    public async Task Request_WhenTheUpgradeFails_AnswersWithTheOutcomeAndReason_AndTheGenerationServesOn()
    {
        // The harness's default successor is /bin/false: it exits with code 1 before connecting.
        await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady);

        UpgradeResult result = await Upgrader.RequestUpgradeAsync(serving.SocketPath).WaitAsync(Guard);
        Assert.Equal(UpgradeOutcome.SuccessorExited, result.Outcome);
        Assert.Contains("exited with code 1 before connecting", result.Error, StringComparison.Ordinal);
        Assert.Equal(1, serving.SuccessorsStarted);
        await serving.AssertStillServesAsync();
    }

    [Fact]
    public async Task Request_FromAProcessThatMayNotTakeOver_IsRefused_AndStartsNothing()
    {
        var seen = new List<UnixPeerCredentials>();
        await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady, options => options.AuthorizeSuccessor = peer =>
        {
            seen.Add(peer);
            return false;
        });

        UpgradeResult result = await Upgrader.RequestUpgradeAsync(serving.SocketPath).WaitAsync(Guard);
        Assert.Equal(UpgradeOutcome.CredentialsRefused, result.Outcome);
        Assert.Contains($"uid {Identity.UserId}) may not request upgrades", result.Error, StringComparison.Ordinal);
        Assert.Equal(Environment.ProcessId, Assert.Single(seen).ProcessId); // the kernel's view of the requesting process
        Assert.Equal(0, serving.SuccessorsStarted);
        await serving.AssertStillServesAsync();
    }

    [Fact]
    public async Task Request_WhileAnUpgradeRuns_AnswersAlreadyInProgress()
    {
        await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady);
        Upgrader pending = serving.NewSuccessor();
        await pending.StartAsync(); // has the offer, not ready yet

        UpgradeResult result = await Upgrader.RequestUpgradeAsync(serving.SocketPath).WaitAsync(Guard);
        Assert.Equal(UpgradeOutcome.AlreadyInProgress, result.Outcome);
        Assert.Equal(0, serving.SuccessorsStarted);

        await pending.ReadyAsync().WaitAsync(Guard);
        await serving.Upgrader.Retired.WaitAsync(Guard);
    }

    [Fact]
    public async Task Request_WhereNothingServes_ThrowsSocketException()
    {
        string directory = Directory.CreateTempSubdirectory("asyncsendfd-hosting-").FullName;
        try
        {
            await Assert.ThrowsAnyAsync<SocketException>(() => Upgrader.RequestUpgradeAsync(Path.Combine(directory, "upgrade.sock")));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
