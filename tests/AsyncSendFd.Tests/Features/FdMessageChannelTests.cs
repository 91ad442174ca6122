using System.Net.Sockets;
using System.Runtime.InteropServices;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;
using static AsyncSendFd.Tests.Support.Timeouts;

namespace AsyncSendFd.Tests.Features;

[Collection("Descriptors")]
public class FdMessageChannelTests
{
    [Theory]
    [InlineData(0, 1)]
    [InlineData(5, 0)]
    [InlineData(1000, 3)]
    [InlineData(FdMessageChannel.CopyThreshold + 1, 2)]
    [InlineData(3 * 1024 * 1024, 252)]
    public async Task ReceiveAsync_ReturnsTheWholePayloadAndExactlyItsDescriptors(int payloadLength, int fdCount)
    {
        using var pair = SocketPair.Create();
        var sender = new FdMessageChannel(pair.Left);
        var receiver = new FdMessageChannel(pair.Right);
        byte[] payload = RandomPayload(payloadLength, seed: payloadLength);
        using SafeFileHandle file = Descriptors.TempFile("framed");
        SafeHandle[] fds = Enumerable.Repeat<SafeHandle>(file, fdCount).ToArray();
        LibraryWarmup.Ensure(); // the engine's own descriptors and lazily loaded assemblies belong in the baseline
        int baseline = Leak.StableCount(); // other tests' dropped handles, finalized meanwhile, must not skew it

        Task send = sender.SendAsync(payload, fds).AsTask();
        using (FdMessage? message = await receiver.ReceiveAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30)))
        {
            await send;
            Assert.NotNull(message);
            Assert.Equal(payload, message.Payload.ToArray());
            Assert.Equal(fdCount, message.FdCount);
            if (fdCount > 0)
            {
                using SafeFileHandle first = message.TakeFd(0);
                Assert.Equal("framed", Descriptors.ReadAll(first));
                Assert.Throws<InvalidOperationException>(() => message.TakeFd(0));
            }
        }

        Assert.Equal(baseline, Descriptors.CountSettledAt(baseline));
    }

    [Fact]
    public async Task ReceiveAsync_ManyFramesOfRandomSizes_StayInStep()
    {
        using var pair = SocketPair.Create();
        var sender = new FdMessageChannel(pair.Left);
        var receiver = new FdMessageChannel(pair.Right);
        using SafeFileHandle file = Descriptors.TempFile();
        var random = new Random(7);
        var frames = Enumerable.Range(0, 300).Select(i => (Payload: RandomPayload(random.Next(0, 200_000), i), Fds: random.Next(0, 4))).ToArray();

        Task sending = Task.Run(async () =>
        {
            foreach ((byte[] payload, int fds) in frames)
            {
                await sender.SendAsync(payload, Enumerable.Repeat<SafeHandle>(file, fds).ToArray());
            }

            pair.Left.Shutdown(SocketShutdown.Send);
        });

        foreach ((byte[] payload, int fds) in frames)
        {
            using FdMessage? message = await receiver.ReceiveAsync();
            Assert.NotNull(message);
            Assert.Equal(payload.Length, message.Payload.Length);
            Assert.True(payload.AsSpan().SequenceEqual(message.Payload.Span));
            Assert.Equal(fds, message.FdCount);
        }

        Assert.Null(await receiver.ReceiveAsync());
        await sending;
    }

    [Fact]
    public async Task ReceiveAsync_WhenThePeerHangsUpMidFrame_ThrowsEndOfStreamAndClosesWhatCame()
    {
        using var pair = SocketPair.Create();
        var receiver = new FdMessageChannel(pair.Right);
        using SafeFileHandle file = Descriptors.TempFile();
        LibraryWarmup.Ensure(); // the engine's own descriptors and lazily loaded assemblies belong in the baseline
        int baseline = Descriptors.OpenCount();

        // A header announcing 100 bytes and one descriptor, then only 10 bytes.
        byte[] frame = new byte[8 + 10];
        BitConverter.TryWriteBytes(frame.AsSpan(0, 4), 100);
        BitConverter.TryWriteBytes(frame.AsSpan(4, 4), 1);
        pair.Left.SendFds(frame, [file]);
        pair.Left.Shutdown(SocketShutdown.Send);

        await Assert.ThrowsAsync<EndOfStreamException>(async () => await receiver.ReceiveAsync());
        Assert.Equal(baseline, Descriptors.CountSettledAt(baseline));
    }

    [Fact]
    public async Task ReceiveAsync_WhenTheHeaderMiscountsDescriptors_ClosesThemAndThrowsIOException()
    {
        using var pair = SocketPair.Create();
        var receiver = new FdMessageChannel(pair.Right);
        using SafeFileHandle file = Descriptors.TempFile();
        LibraryWarmup.Ensure(); // the engine's own descriptors and lazily loaded assemblies belong in the baseline
        int baseline = Descriptors.OpenCount();

        byte[] header = new byte[8];
        BitConverter.TryWriteBytes(header.AsSpan(4, 4), 3);
        pair.Left.SendFds(header, [file]);

        await Assert.ThrowsAsync<IOException>(async () => await receiver.ReceiveAsync());
        Assert.Equal(baseline, Descriptors.CountSettledAt(baseline));
    }

    [Fact]
    public async Task ReceiveAsync_WhenThePayloadIsOverTheLimit_ThrowsIOException()
    {
        using var pair = SocketPair.Create();
        var sender = new FdMessageChannel(pair.Left);
        var receiver = new FdMessageChannel(pair.Right, maxPayloadLength: 10);

        await sender.SendAsync(new byte[11]);

        await Assert.ThrowsAsync<IOException>(async () => await receiver.ReceiveAsync());
    }

    [Fact]
    public async Task ReceiveAsync_CanceledBeforeAFrameArrives_LeavesTheFrameForTheNextReceive()
    {
        using var pair = SocketPair.Create();
        var sender = new FdMessageChannel(pair.Left);
        var receiver = new FdMessageChannel(pair.Right);
        using SafeFileHandle file = Descriptors.TempFile("kept");
        using var cancel = new CancellationTokenSource();

        ValueTask<FdMessage?> pending = receiver.ReceiveAsync(cancel.Token);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await pending);
        await sender.SendAsync("after"u8.ToArray(), new SafeHandle[] { file });

        using FdMessage? message = await receiver.ReceiveAsync();
        Assert.NotNull(message);
        Assert.Equal("after"u8.ToArray(), message.Payload.ToArray());
        using SafeFileHandle kept = message.TakeFd(0);
        Assert.Equal("kept", Descriptors.ReadAll(kept));
    }

    [Theory]
    [InlineData(3)] // part of the header, with its descriptor
    [InlineData(8 + 10)] // the header and 10 of the 100 payload bytes it announces
    public async Task ReceiveAsync_WhenThePeerStallsMidFrame_HonoursTheTokenClosesWhatCameAndFaultsTheChannel(int sent)
    {
        using var pair = SocketPair.Create();
        var receiver = new FdMessageChannel(pair.Right);
        using var pipe = Pipe.Create();
        byte[] frame = Frame(payloadLength: 100, fdCount: 1);
        pair.Left.SendFds(frame.AsSpan(0, sent), [pipe.Write]);
        pipe.Write.Dispose();
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => receiver.ReceiveAsync(cts.Token).AsTask().WaitAsync(Guard));
        Assert.True(pipe.AllWritersClosed(), "the partial frame's descriptor is still open");

        // The rest of the frame arrives late; the channel cannot know where the next frame starts, so it stays faulted.
        pair.Left.Send(frame.AsSpan(sent));
        InvalidOperationException receive = await Assert.ThrowsAsync<InvalidOperationException>(async () => await receiver.ReceiveAsync());
        Assert.IsAssignableFrom<OperationCanceledException>(receive.InnerException);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await receiver.SendAsync("x"u8.ToArray()));
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await receiver.ReceiveAsync());
    }

    [Fact]
    public async Task ReceiveAsync_AfterABrokenFrame_EveryLaterCallThrows()
    {
        using var pair = SocketPair.Create();
        var sender = new FdMessageChannel(pair.Left);
        var receiver = new FdMessageChannel(pair.Right, maxPayloadLength: 10);
        await sender.SendAsync(new byte[11]);
        await sender.SendAsync(new byte[1]);

        await Assert.ThrowsAsync<IOException>(async () => await receiver.ReceiveAsync());

        // The 11 payload bytes are still in the socket: reading on would take them for a header.
        InvalidOperationException e = await Assert.ThrowsAsync<InvalidOperationException>(async () => await receiver.ReceiveAsync());
        Assert.IsType<IOException>(e.InnerException);
    }

    [LinuxFact] // needs RLIMIT_NOFILE to bite as Linux's recvmsg does
    public async Task ReceiveAsync_AfterAFrameRefusedOnItsFirstRead_FaultsInsteadOfReadingThePayloadAsAFrame()
    {
        using var pair = SocketPair.Create();
        var sender = new FdMessageChannel(pair.Left);
        var receiver = new FdMessageChannel(pair.Right);
        using SafeFileHandle file = Descriptors.TempFile();
        byte[] lookalike = Frame(0, 0); // the payload reads as an empty frame if taken for a header
        await sender.SendAsync(lookalike, Enumerable.Repeat<SafeHandle>(file, 8).ToArray());
        var baseline = DescriptorSnapshot.Take();

        Exception? refused;
        using (NoFileLimit.JustAboveHighestOpen(2))
        {
            refused = await Record.ExceptionAsync(async () => await receiver.ReceiveAsync()); // MSG_CTRUNC: 2 of 8 fit
        }

        Assert.IsAssignableFrom<IOException>(refused);
        InvalidOperationException next = await Assert.ThrowsAsync<InvalidOperationException>(async () => await receiver.ReceiveAsync());
        Assert.Same(refused, next.InnerException);
        DescriptorSnapshot.AssertBackTo(baseline);
    }

    private static byte[] Frame(int payloadLength, int fdCount)
    {
        byte[] frame = new byte[8 + payloadLength];
        BitConverter.TryWriteBytes(frame.AsSpan(0, 4), payloadLength);
        BitConverter.TryWriteBytes(frame.AsSpan(4, 4), fdCount);
        return frame;
    }

    [Fact]
    public void Constructor_OnADatagramSocket_ThrowsNotSupported()
    {
        using var pair = SocketPair.Create(SocketType.Dgram);

        Assert.Throws<NotSupportedException>(() => new FdMessageChannel(pair.Left));
    }

    private static byte[] RandomPayload(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
