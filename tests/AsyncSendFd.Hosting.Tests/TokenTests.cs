using System.Net.Sockets;
using AsyncSendFd.Hosting.Tests.Support;
using static AsyncSendFd.Hosting.Tests.Support.Timeouts;

namespace AsyncSendFd.Hosting.Tests;

/// <summary>
/// Only a successor this generation started, or gave the token file's token, may take over: its hello carries a
/// one-time token (the child's from its environment, anyone else's from <see cref="UpgradeOptions.TokenFile"/>).
/// Others are refused with the reason, whatever their uid; a token admits one attempt.
/// </summary>
public sealed class TokenTests
{
    private const string TokenVariable = "ASYNCSENDFD_UPGRADE_TOKEN";

    public static TheoryData<string> Unknown => ["", "0123456789ABCDEF", new string('A', 64)];

    [Theory]
    [MemberData(nameof(Unknown))]
    public async Task AHelloWithoutAValidToken_IsRefused_TheSuccessorLearnsWhy_AndNothingIsHandedOver(string token)
    {
        await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady);

        async Task Refused()
        {
            using FakeSuccessor fake = await FakeSuccessor.ConnectAsync(serving, token);
            await fake.SendHelloAsync();
            (byte type, string reason) = await fake.ReceiveTextAsync(); // no descriptor rides on a refusal
            Assert.Equal(Wire.Refused, type);
            Assert.Contains("no valid upgrade token", reason, StringComparison.Ordinal);
            Assert.Null(await fake.ReceiveAsync());
        }

        await Refused(); // warms up what is created once
        int before = Fds.Baseline();
        await Refused();
        Assert.Equal(before, Fds.SettledAt(before));

        string logged = await serving.Log.WaitForAsync("presented no valid upgrade token");
        Assert.Contains($"pid {Environment.ProcessId} presented no valid upgrade token: this generation did not start it", logged, StringComparison.Ordinal);
        await serving.AssertStillServesAsync();
        await serving.AssertNextUpgradeSucceedsAsync();
    }

    [Fact]
    public async Task WithoutATokenFile_ASuccessorThisGenerationDidNotStart_IsRefused()
    {
        await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady, options => options.TokenFile = null);
        Assert.False(File.Exists(serving.TokenPath));

        Upgrader stranger = serving.NewSuccessor();
        InvalidOperationException e = await Assert.ThrowsAsync<InvalidOperationException>(() => stranger.StartAsync());
        Assert.Contains("no valid upgrade token", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, stranger.Generation);
        Assert.Empty(stranger.InheritedNames);
        await serving.AssertStillServesAsync();
    }

    [Fact]
    public async Task TheTokenFilesToken_AdmitsOneAttempt_ThenTheFileHoldsAFreshOne()
    {
        await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady);
        string first = serving.FileToken();
        Assert.Equal(64, first.Length);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(serving.TokenPath));

        using (FakeSuccessor admitted = await FakeSuccessor.ConnectAsync(serving, first))
        {
            Assert.Equal(2, await admitted.HelloAndOfferAsync());
        }

        await FailedUpgradeTests.WaitForFailuresAsync(serving.Log, "exited before it was ready", 1);
        using (FakeSuccessor replayed = await FakeSuccessor.ConnectAsync(serving, first))
        {
            await replayed.SendHelloAsync();
            Assert.Equal(Wire.Refused, (await replayed.ReceiveTextAsync()).Type);
        }

        Assert.NotEqual(first, serving.FileToken());
        await serving.AssertNextUpgradeSucceedsAsync(); // with the fresh one
    }

    [Fact]
    public async Task UpgradeAsync_TheChildsTokenIsItsOwn_AndVoidOnceTheAttemptIsOver()
    {
        await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady);
        using var children = ChildSuccessors.StartedBy(serving);

        Task<UpgradeResult> upgrade = serving.Upgrader.UpgradeAsync();
        (FakeSuccessor successor, Socket link) = await children.AcceptAsync();
        string childToken = successor.Token;
        using (successor)
        using (link)
        {
            Assert.Equal(64, childToken.Length);
            Assert.NotEqual(serving.FileToken(), childToken);
            Assert.Equal(2, await successor.HelloAndOfferAsync());
        }

        // The child hung up before it was ready: the attempt is over.
        Assert.Equal(UpgradeOutcome.SuccessorExited, (await upgrade.WaitAsync(Guard)).Outcome);

        using FakeSuccessor late = await FakeSuccessor.ConnectAsync(serving, childToken);
        await late.SendHelloAsync();
        (byte type, string reason) = await late.ReceiveTextAsync();
        Assert.Equal(Wire.Refused, type);
        Assert.Contains("no valid upgrade token", reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ASuccessor_TakesItsTokenFromTheEnvironment_AndRemovesItFromThere()
    {
        await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady);
        Environment.SetEnvironmentVariable(TokenVariable, serving.FileToken());
        try
        {
            // No token file of its own: the environment is the only place it can find the token.
            Upgrader next = serving.Track(new Upgrader(new UpgradeOptions { SocketPath = serving.SocketPath, UpgradeOnSighup = false }));
            await next.StartAsync();
            Assert.Equal(2, next.Generation);
            Assert.Null(Environment.GetEnvironmentVariable(TokenVariable)); // its own children do not inherit it
            await next.ReadyAsync().WaitAsync(Guard);
            await serving.Upgrader.Retired.WaitAsync(Guard);
        }
        finally
        {
            Environment.SetEnvironmentVariable(TokenVariable, null);
        }
    }

    [Fact]
    public async Task TheTokenFile_IsLeftToTheSuccessor_AndRemovedByTheGenerationThatStopsForGood()
    {
        await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady);
        string first = serving.FileToken();
        Upgrader next = serving.NewSuccessor();
        await next.StartAsync();
        await next.ReadyAsync().WaitAsync(Guard);
        string second = serving.FileToken();
        Assert.NotEqual(first, second); // the new generation's own

        await serving.Upgrader.DisposeAsync(); // retired: not its file any more
        Assert.Equal(second, serving.FileToken());
        await next.DisposeAsync(); // stops for good
        Assert.False(File.Exists(serving.TokenPath));
    }
}
