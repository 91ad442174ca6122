using System.Net.Sockets;
using AsyncSendFd.Hosting.Tests.Support;
using static AsyncSendFd.Hosting.Tests.Support.Timeouts;

namespace AsyncSendFd.Hosting.Tests;

/// <summary>The kernel's credentials of the connecting process decide: same user, AllowedUserIds, or AuthorizeSuccessor.</summary>
public sealed class CredentialTests
{
    private const int Nobody = 65534;

    [Fact]
    public async Task SameUser_IsAccepted_WhateverOtherUsersAreAllowed()
    {
        await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady, options =>
        {
            options.AllowedUserIds.Add(Identity.UserId + 1);
            options.AllowedUserIds.Add(Identity.UserId + 2);
        });
        await serving.AssertNextUpgradeSucceedsAsync();
    }

    [Fact]
    public async Task AuthorizeSuccessor_ReturningFalse_Refuses_TheSuccessorLearnsWhy_AndNothingIsHandedOver()
    {
        bool allow = false;
        var seen = new List<UnixPeerCredentials>();
        await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady, options =>
        {
            options.AllowedUserIds.Add(Identity.UserId); // replaced by the callback, not added to it
            options.AuthorizeSuccessor = peer =>
            {
                seen.Add(peer);
                return allow;
            };
        });

        Upgrader refused = serving.NewSuccessor();
        InvalidOperationException e = await Assert.ThrowsAsync<InvalidOperationException>(() => refused.StartAsync());
        Assert.Contains("refused to hand over", e.Message, StringComparison.Ordinal);
        Assert.Contains($"uid {Identity.UserId} may not take over", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, refused.Generation);
        Assert.Empty(refused.InheritedNames);

        // The callback got the kernel's view of the connecting process: this one.
        UnixPeerCredentials peer = Assert.Single(seen);
        Assert.Equal(Environment.ProcessId, peer.ProcessId);
        Assert.Equal(Identity.UserId, peer.UserId);
        await serving.Log.WaitForAsync("Refused successor pid");
        await serving.AssertStillServesAsync();

        // The policy is asked again for each successor.
        allow = true;
        await serving.AssertNextUpgradeSucceedsAsync();
        Assert.Equal(2, seen.Count);
    }

    [Fact]
    public async Task UpgradeAsync_AuthorizeSuccessorFalse_ResultSaysWhy_AndTheChildIsToldSo()
    {
        var seen = new List<UnixPeerCredentials>();
        await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady, options => options.AuthorizeSuccessor = peer =>
        {
            seen.Add(peer);
            return false;
        });
        using var children = ChildSuccessors.StartedBy(serving);

        Task<UpgradeResult> upgrade = serving.Upgrader.UpgradeAsync();
        (FakeSuccessor successor, Socket link) = await children.AcceptAsync();
        using (successor)
        using (link)
        {
            await successor.SendHelloAsync();
            (byte type, string reason) = await successor.ReceiveTextAsync();
            Assert.Equal(Wire.Refused, type);
            Assert.Contains($"uid {Identity.UserId} may not take over", reason, StringComparison.Ordinal);
            Assert.Null(await successor.ReceiveAsync()); // and then the serving generation hangs up
            link.Dispose(); // the child, refused, exits

            UpgradeResult result = await upgrade.WaitAsync(Guard);
            Assert.False(result.Succeeded);
            Assert.Equal(UpgradeOutcome.CredentialsRefused, result.Outcome);
            Assert.Contains("may not take over; it exited", result.Error, StringComparison.Ordinal);
            Assert.Equal(Assert.Single(seen).ProcessId, result.SuccessorProcessId);
            Assert.NotEqual(Environment.ProcessId, result.SuccessorProcessId);
        }

        await serving.AssertStillServesAsync();
    }

    [Fact]
    public async Task ASuccessorThatMayNotTakeOver_IsToldSo_BeforeItsTokenIsLookedAt()
    {
        await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady, options => options.AuthorizeSuccessor = _ => false);
        string fileToken = serving.FileToken();
        using (FakeSuccessor stranger = await FakeSuccessor.ConnectAsync(serving, token: ""))
        {
            await stranger.SendHelloAsync();
            (byte type, string reason) = await stranger.ReceiveTextAsync();
            Assert.Equal(Wire.Refused, type);
            Assert.Equal($"uid {Identity.UserId} may not take over from uid {Identity.UserId}", reason);
        }

        await serving.Log.WaitForAsync($"(uid {Identity.UserId}, gid ");
        Assert.Equal(fileToken, serving.FileToken()); // not used up by a refused stranger
        await serving.AssertStillServesAsync();
    }

    [RootFact]
    public async Task AnotherUser_ConnectingOnItsOwn_IsRefusedByItsCredentials()
    {
        await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady);
        using var children = new ChildSuccessors(serving.Directory, serving.SocketPath);
        File.SetUnixFileMode(serving.Directory, (UnixFileMode)Convert.ToInt32("755", 8));
        File.SetUnixFileMode(serving.SocketPath, (UnixFileMode)Convert.ToInt32("777", 8));

        // Started by this test, not by the serving generation: no token of its own.
        using var child = System.Diagnostics.Process.Start(children.StartInfo(Nobody))!;
        (FakeSuccessor successor, Socket link) = await children.AcceptAsync();
        using (successor)
        using (link)
        {
            await successor.SendHelloAsync();
            (byte type, string reason) = await successor.ReceiveTextAsync();
            Assert.Equal(Wire.Refused, type);
            Assert.Equal($"uid {Nobody} may not take over from uid {Identity.UserId}", reason);
        }

        await serving.Log.WaitForAsync($"(uid {Nobody}, gid {Nobody}): not an allowed user");
        await serving.AssertStillServesAsync();
    }

    [RootFact]
    public async Task UpgradeAsync_AnotherUser_IsRefused_UntilAllowed()
    {
        await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady);
        using var children = ChildSuccessors.StartedBy(serving, asUserId: Nobody);

        // The other user must be able to reach the control socket: the directory is the door, the credentials the lock.
        File.SetUnixFileMode(serving.Directory, (UnixFileMode)Convert.ToInt32("755", 8));
        File.SetUnixFileMode(serving.SocketPath, (UnixFileMode)Convert.ToInt32("777", 8));

        Task<UpgradeResult> upgrade = serving.Upgrader.UpgradeAsync();
        (FakeSuccessor successor, Socket link) = await children.AcceptAsync();
        using (successor)
        using (link)
        {
            await successor.SendHelloAsync();
            (byte type, string reason) = await successor.ReceiveTextAsync();
            Assert.Equal(Wire.Refused, type);
            Assert.Contains($"uid {Nobody} may not take over from uid {Identity.UserId}", reason, StringComparison.Ordinal);
            link.Dispose(); // the child, refused, exits
            UpgradeResult result = await upgrade.WaitAsync(Guard);
            Assert.False(result.Succeeded);
            Assert.Equal(UpgradeOutcome.CredentialsRefused, result.Outcome);
            Assert.Contains($"runs as uid {Nobody}, which may not take over", result.Error, StringComparison.Ordinal);
        }

        await serving.AssertStillServesAsync();

        serving.Options.AllowedUserIds.Add(Nobody);
        await FailedUpgradeTests.AssertUpgradeWithChildSucceedsAsync(serving, children);
    }
}
