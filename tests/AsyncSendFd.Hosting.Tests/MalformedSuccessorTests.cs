using System.Net.Sockets;
using AsyncSendFd.Hosting.Tests.Support;
using Microsoft.Win32.SafeHandles;
using static AsyncSendFd.Hosting.Tests.Support.Timeouts;

namespace AsyncSendFd.Hosting.Tests;

/// <summary>
/// A successor that does not speak the protocol is turned away: told why when its frame could be read, hung up on
/// when not (a hello with descriptors attached is a hello: the descriptors are closed and the hand-over goes on);
/// every descriptor it sent is closed; the serving generation serves on and the next upgrade succeeds.
/// </summary>
public sealed class MalformedSuccessorTests
{
    public static TheoryData<string> Misbehaviours => ["garbage bytes", "wrong message type", "empty frame", "another protocol version", "hello with descriptors"];

    [Theory]
    [MemberData(nameof(Misbehaviours))]
    public async Task BeforeTheOffer_IsTurnedAway_EveryDescriptorClosed_AndTheServingGenerationUnaffected(string misbehaviour)
    {
        await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady);
        int failures = 0;

        async Task Misbehave()
        {
            using FakeSuccessor fake = await FakeSuccessor.ConnectAsync(serving);
            using SafeFileHandle file = File.OpenHandle(Path.Combine(serving.Directory, "attached"), FileMode.OpenOrCreate, FileAccess.ReadWrite);
            switch (misbehaviour)
            {
                case "garbage bytes":
                    await fake.Socket.SendAsync("GET / HTTP/1.1\r\nHost: upgrade\r\n\r\n"u8.ToArray());
                    break;
                case "wrong message type":
                    await fake.SendAsync(Wire.Signal(Wire.Ready));
                    break;
                case "empty frame":
                    await fake.SendAsync([]);
                    break;
                case "another protocol version":
                    await fake.SendAsync("HASFU/2"u8.ToArray());
                    break;
                default:
                    await fake.SendAsync(Wire.Hello(fake.Token), file, file);
                    break;
            }

            if (misbehaviour == "hello with descriptors")
            {
                // By design the hello's payload decides: the attached descriptors are closed unread and the hand-over
                // goes on (an offer comes); this successor then hangs up before it is ready.
                using (FdMessage? offer = await fake.ReceiveAsync())
                {
                    Assert.Equal(Wire.Offer, Wire.TypeOf(offer!));
                }

                fake.Socket.Dispose();
            }

            (byte? type, string? reason) = misbehaviour == "hello with descriptors" ? (null, null) : await ReplyAsync(fake);
            if (type is not null)
            {
                Assert.Equal(Wire.Refused, type);
                Assert.Contains("not an upgrade hello", reason, StringComparison.Ordinal);
            }

            failures++;
            await FailedUpgradeTests.WaitForFailuresAsync(serving.Log, "", failures);
        }

        await Misbehave(); // warms up what is created once
        int before = Fds.Baseline();
        await Misbehave();
        Assert.Equal(before, Fds.SettledAt(before));

        await serving.AssertStillServesAsync();
        await serving.AssertNextUpgradeSucceedsAsync();
    }

    [Fact]
    public async Task AfterTheOffer_AnythingButReady_FailsTheUpgrade_WithoutACommit()
    {
        await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady);
        using (FakeSuccessor fake = await FakeSuccessor.ConnectAsync(serving))
        {
            Assert.Equal(2, await fake.HelloAndOfferAsync());
            await fake.SendHelloAsync(); // again, instead of Ready
            (byte? type, string? reason) = await ReplyAsync(fake);
            Assert.Equal(Wire.Abort, type); // told to go (never a commit), so it does not take the hang-up for its predecessor's death
            Assert.Equal("expected Ready", reason);
        }

        await FailedUpgradeTests.WaitForFailuresAsync(serving.Log, "broke the protocol before it was ready", 1);
        await serving.AssertStillServesAsync();
        await serving.AssertNextUpgradeSucceedsAsync();
    }

    [Fact]
    public async Task UpgradeAsync_SuccessorStallingMidFrame_FailsAsAResult_AndKeepsServing()
    {
        await using ServingGeneration serving = await ServingGeneration.StartAsync(ShortReady);
        using var children = ChildSuccessors.StartedBy(serving);

        Task<UpgradeResult> upgrade = serving.Upgrader.UpgradeAsync();
        (FakeSuccessor successor, Socket link) = await children.AcceptAsync();
        using (successor)
        using (link)
        {
            Assert.Equal(2, await successor.HelloAndOfferAsync());
            await successor.Socket.SendAsync(new byte[] { 1, 0, 0 }); // three bytes of a frame header, then nothing

            // The stalled frame does not stop the serving generation from telling it to go.
            (byte type, string reason) = await successor.ReceiveTextAsync();
            Assert.Equal(Wire.Abort, type);
            Assert.Contains("not ready within", reason, StringComparison.Ordinal);
            link.Dispose(); // the child exits when told

            // "Failures are results, not exceptions."
            UpgradeResult result = await upgrade.WaitAsync(Guard);
            Assert.False(result.Succeeded);
            Assert.Equal(UpgradeOutcome.NotReadyInTime, result.Outcome);
            Assert.Contains("not ready within", result.Error, StringComparison.Ordinal);
        }

        await serving.AssertStillServesAsync();
        await serving.AssertNextUpgradeSucceedsAsync();
    }

    /// <summary>The serving generation's answer: a message's type and text, or nulls when it hung up (or reset).</summary>
    private static async Task<(byte? Type, string? Text)> ReplyAsync(FakeSuccessor fake)
    {
        try
        {
            using FdMessage? message = await fake.ReceiveAsync();
            if (message is null)
            {
                return (null, null);
            }

            Assert.Equal(0, message.FdCount);
            (byte? Type, string? Text) reply = (Wire.TypeOf(message), Wire.Text(message));
            Assert.Null(await fake.ReceiveAsync()); // then it hangs up
            return reply;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            return (null, null);
        }
    }
}
