using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;
using Xunit.Abstractions;
using static AsyncSendFd.Tests.Support.Timeouts;

namespace AsyncSendFd.Tests.Rules;

/// <summary>
/// README rule "Cancellation": a canceled receive leaves its message in the socket; a canceled send either writes
/// nothing or completes its message; either way the stream stays whole.
/// </summary>
public class CancellationTests(ITestOutputHelper output)
{
    private const byte Filler = 0xAA;

    // Receiving.

    [Fact]
    public async Task ReceiveFdAsync_CanceledWhileWaiting_LosesNothing()
    {
        using var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile("kept");
        using var cts = new CancellationTokenSource();

        ValueTask<SafeFileHandle> pending = pair.Right.ReceiveFdAsync(cts.Token);
        Assert.False(pending.IsCompleted);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending.AsTask().WaitAsync(Guard));

        pair.Left.SendFd(file);
        using SafeFileHandle received = await pair.Right.ReceiveFdAsync().AsTask().WaitAsync(Guard);
        Assert.Equal("kept", Descriptors.ReadAll(received));
        Assert.False(Pipe.IsReadable(pair.Right));
    }

    [Theory]
    [InlineData(SocketType.Stream)]
    [InlineData(SocketType.Dgram)]
    [LinuxInlineData(SocketType.Seqpacket)]
    public async Task ReceiveFdsAsync_CanceledWhileWaiting_LeavesTheNextMessageWithItsDescriptors(SocketType type)
    {
        using var pair = SocketPair.Create(type);
        using var pipe = Pipe.Create();
        using var cts = new CancellationTokenSource();
        var slots = new SafeFileHandle?[4];

        ValueTask<FdReceiveResult> pending = pair.Right.ReceiveFdsAsync(new byte[16], slots, cts.Token);
        Assert.False(pending.IsCompleted);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending.AsTask().WaitAsync(Guard));
        Assert.All(slots, Assert.Null);

        pair.Left.SendFds("three"u8, [pipe.Write, pipe.Write, pipe.Write]);
        var data = new byte[16];
        FdReceiveResult result = await pair.Right.ReceiveFdsAsync(data, slots).AsTask().WaitAsync(Guard);
        Assert.Equal(new FdReceiveResult(5, 3), result);
        Assert.Equal("three"u8.ToArray(), data[..5]);
        Descriptors.DisposeAll(slots);
    }

    /// <summary>
    /// Each receive shape is in a real readiness wait (the socket was empty, so recvmsg said EAGAIN) when its token
    /// fires, and the message is sent at once, while the canceled call unwinds. The canceled receive either throws and
    /// leaves the message, descriptor included, for the next receive, or returns it; it never takes it and drops it.
    /// </summary>
    [Fact]
    public async Task ReceiveAsync_CanceledDuringAReadinessWait_LeavesTheMessageThatArrives()
    {
        using var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile("still there");
        var slots = new SafeFileHandle?[1];
        string target = Descriptors.Target(file);
        int canceled = 0;

        for (int round = 0; round < 30; round++)
        {
            using var cts = new CancellationTokenSource();
            Task<SafeHandle> pending = (round % 3) switch
            {
                0 => AsHandle(pair.Right.ReceiveFdAsync(cts.Token)),
                1 => AsHandle(pair.Right.ReceiveSocketAsync(cts.Token)),
                _ => AsHandle(pair.Right.ReceiveFdsAsync(new byte[4], slots, cts.Token), slots),
            };
            Assert.False(pending.IsCompleted, "precondition: the receive must be waiting for readiness");

            cts.Cancel();
            if (round % 3 == 1)
            {
                pair.Left.SendSocket(pair.Left);
            }
            else
            {
                pair.Left.SendFd(file);
            }

            SafeHandle received;
            try
            {
                received = await pending.WaitAsync(Guard);
            }
            catch (OperationCanceledException)
            {
                canceled++;
                Assert.All(slots, Assert.Null);
                Assert.True(Pipe.IsReadable(pair.Right), "the canceled receive took the message");
                received = round % 3 == 1 ? pair.Right.ReceiveSocket().SafeHandle : pair.Right.ReceiveFd();
            }

            using (received)
            {
                Assert.Equal(round % 3 == 1 ? Descriptors.Target(pair.Left.SafeHandle) : target, Descriptors.Target(received));
            }
        }

        output.WriteLine($"{canceled} of 30 canceled receives threw");
        Assert.False(Pipe.IsReadable(pair.Right));

        static async Task<SafeHandle> AsHandle<T>(ValueTask<T> receive, SafeFileHandle?[]? slots = null)
        {
            T result = await receive;
            if (result is Socket socket)
            {
                return socket.SafeHandle;
            }

            SafeHandle handle = slots?[0] ?? (SafeHandle)(object)result!;
            if (slots is not null)
            {
                slots[0] = null;
            }

            return handle;
        }
    }

    [Fact]
    public async Task ReceiveFdAsync_CanceledWhileQueuedBehindAnotherReceive_TakesNothing()
    {
        using var pair = SocketPair.Create();
        using SafeFileHandle a = Descriptors.TempFile("a");
        using SafeFileHandle b = Descriptors.TempFile("b");
        using var cts = new CancellationTokenSource();

        Task<SafeFileHandle> first = pair.Right.ReceiveFdAsync().AsTask();
        Task<SafeFileHandle> queued = pair.Right.ReceiveFdAsync(cts.Token).AsTask();
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => queued.WaitAsync(Guard));

        pair.Left.SendFd(a);
        using (SafeFileHandle gotA = await first.WaitAsync(Guard))
        {
            Assert.Equal("a", Descriptors.ReadAll(gotA));
        }

        pair.Left.SendFd(b);
        using SafeFileHandle gotB = await pair.Right.ReceiveFdAsync().AsTask().WaitAsync(Guard);
        Assert.Equal("b", Descriptors.ReadAll(gotB));
    }

    /// <summary>
    /// Each message is sent from another thread while the receive waiting for it is being canceled, so arrival and
    /// cancellation race in every round. Whichever wins, the message is received exactly once, in order.
    /// </summary>
    [Fact]
    public async Task ReceiveFdsAsync_WithCancellationRacingArrivals_LosesAndDuplicatesNothing()
    {
        const int Messages = 500;
        using var pair = SocketPair.Create();
        using var pipe = Pipe.Create();
        var data = new byte[4];
        var slots = new SafeFileHandle?[2];
        int canceled = 0;

        for (int i = 0; i < Messages; i++)
        {
            var message = new byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(message, i);
            Task send = Task.CompletedTask;
            for (int attempt = 0; ; attempt++)
            {
                using var cts = new CancellationTokenSource();
                ValueTask<FdReceiveResult> receive = pair.Right.ReceiveFdsAsync(data, slots, cts.Token);
                if (attempt == 0)
                {
                    send = Task.Run(() => pair.Left.SendFds(message, [pipe.Write]));
                }

                if (i % 4 != 3 && attempt < 3)
                {
                    if (i % 2 == 0)
                    {
                        await Task.Yield();
                    }

                    cts.Cancel();
                }

                try
                {
                    FdReceiveResult result = await receive.AsTask().WaitAsync(Guard);
                    Assert.Equal(new FdReceiveResult(4, 1), result);
                    Assert.Equal(i, BinaryPrimitives.ReadInt32LittleEndian(data));
                    Descriptors.DisposeAll(slots);
                    break;
                }
                catch (OperationCanceledException)
                {
                    canceled++;
                    Assert.All(slots, Assert.Null);
                }
            }

            await send.WaitAsync(Guard);
        }

        Assert.False(Pipe.IsReadable(pair.Right));
        output.WriteLine($"{canceled} canceled attempts");
    }

    [Fact]
    public void ReceiveFd_WhenReceiveTimeoutPasses_ThrowsTimedOutAndLeavesTheSocketUsable()
    {
        using var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile("late");
        pair.Right.ReceiveTimeout = 50;

        SocketException e = Assert.Throws<SocketException>(() => pair.Right.ReceiveFd());
        Assert.Equal(SocketError.TimedOut, e.SocketErrorCode);

        pair.Left.SendFd(file);
        using SafeFileHandle received = pair.Right.ReceiveFd();
        Assert.Equal("late", Descriptors.ReadAll(received));
    }

    [Fact]
    public async Task ReceiveFd_BehindAnotherWaitingReceive_TimesOutWithinItsReceiveTimeout()
    {
        using var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile("first in line");
        Task<SafeFileHandle> first = pair.Right.ReceiveFdAsync().AsTask(); // holds the receive gate while it waits
        pair.Right.ReceiveTimeout = 300;

        Task<SocketException> inLine = Task.Run(() => Assert.Throws<SocketException>(() => pair.Right.ReceiveFd()));
        SocketException e = await inLine.WaitAsync(Guard);
        Assert.Equal(SocketError.TimedOut, e.SocketErrorCode);

        pair.Left.SendFd(file);
        using SafeFileHandle received = await first.WaitAsync(Guard); // the timed-out call took nothing
        Assert.Equal("first in line", Descriptors.ReadAll(received));
    }

    // Sending.

    [Fact]
    public async Task SendFdsAsync_CanceledWhileStalledOnAFullSocket_ThrowsAndWritesNothing()
    {
        using var pair = SocketPair.Create();
        using var pipe = Pipe.Create();
        var handle = new TrackingHandle(pipe.Write);
        int filler = SocketFill.FillSendBuffer(pair.Left, Filler);
        using var cts = new CancellationTokenSource();

        ValueTask stalled = pair.Left.SendFdsAsync(Pattern(0x77, 100), new SafeHandle[] { handle }, cts.Token);
        Assert.False(stalled.IsCompleted);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => stalled.AsTask().WaitAsync(Guard));

        // The canceled message left no byte and no descriptor: after the filler comes the next message.
        Task next = pair.Left.SendFdsAsync(Pattern(0x55, 100), new SafeHandle[] { pipe.Write }).AsTask();
        SocketFill.DrainFiller(pair.Right, filler, Filler);
        await next.WaitAsync(Guard);
        var data = new byte[1000];
        var slots = new SafeFileHandle?[4];
        FdReceiveResult result = pair.Right.ReceiveFds(data, slots);
        Assert.Equal(new FdReceiveResult(100, 1), result);
        Assert.Equal(Pattern(0x55, 100), data[..100]);
        Descriptors.DisposeAll(slots);
        Assert.False(Pipe.IsReadable(pair.Right));

        Assert.False(handle.IsClosed);
        handle.Dispose();
        Assert.Equal(1, handle.Releases);
    }

    [Fact]
    public async Task SendFdAsync_CanceledWhileStalled_ThenTheSocketStillSends()
    {
        using var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile("after cancel");
        int filler = SocketFill.FillSendBuffer(pair.Left, Filler);

        for (int i = 0; i < 20; i++)
        {
            using var cts = new CancellationTokenSource();
            ValueTask stalled = pair.Left.SendFdAsync(file, cts.Token);
            Assert.False(stalled.IsCompleted);
            cts.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => stalled.AsTask().WaitAsync(Guard));
        }

        Task send = pair.Left.SendFdAsync(file).AsTask();
        SocketFill.DrainFiller(pair.Right, filler, Filler);
        await send.WaitAsync(Guard);
        using SafeFileHandle received = pair.Right.ReceiveFd();
        Assert.Equal("after cancel", Descriptors.ReadAll(received));
        Assert.False(Pipe.IsReadable(pair.Right));
    }

    [Fact]
    public async Task SendFdsAsync_CanceledAfterItsFirstByteLeft_CompletesTheWholeMessage()
    {
        using var pair = SocketPair.Create();
        pair.Left.SendBufferSize = 4096;
        using SafeFileHandle file = Descriptors.TempFile("completed");
        byte[] payload = new byte[256 * 1024];
        Random.Shared.NextBytes(payload);
        using var cts = new CancellationTokenSource();

        ValueTask send = pair.Left.SendFdsAsync(payload, new SafeHandle[] { file }, cts.Token);
        Assert.False(send.IsCompleted);
        cts.Cancel();

        var received = new MemoryStream();
        var data = new byte[65536];
        var slots = new SafeFileHandle?[4];
        int fds = 0;
        while (received.Length < payload.Length)
        {
            FdReceiveResult result = await pair.Right.ReceiveFdsAsync(data, slots).AsTask().WaitAsync(Guard);
            Assert.NotEqual(0, result.BytesReceived);
            fds += result.FdCount;
            Descriptors.DisposeAll(slots);
            received.Write(data, 0, result.BytesReceived);
        }

        await send.AsTask().WaitAsync(Guard); // completed, not canceled
        Assert.Equal(1, fds);
        Assert.Equal(payload, received.ToArray());
    }

    /// <summary>
    /// Sends library messages until one stalls, queues more behind it, cancels them all, and sends an end marker.
    /// Queued sends must be canceled; the stalled one is canceled only if none of its bytes left. Every message that
    /// reports success arrives whole with its descriptor, and no canceled message leaves a trace.
    /// </summary>
    [Fact]
    public async Task SendFdsAsync_CanceledWhenStalledAndQueued_KeepsTheStreamWhole()
    {
        const int MessageLength = 3000;
        const ushort EndMarker = ushort.MaxValue;
        using var pair = SocketPair.Create();
        pair.Left.SendBufferSize = 4096;
        using SafeFileHandle file = Descriptors.TempFile("marker");
        var delivered = new List<int>();
        var cancels = new List<CancellationTokenSource>();

        ValueTask stalled = default;
        int stalledSeq = -1;
        for (int seq = 0; seq < 1000; seq++)
        {
            var cts = new CancellationTokenSource();
            cancels.Add(cts);
            ValueTask send = pair.Left.SendFdsAsync(SeqMessage(seq, MessageLength), new SafeHandle[] { file }, cts.Token);
            if (!send.IsCompleted)
            {
                stalled = send;
                stalledSeq = seq;
                break;
            }

            await send;
            delivered.Add(seq);
        }

        Assert.NotEqual(-1, stalledSeq);
        var queued = new List<Task>();
        for (int i = 1; i <= 3; i++)
        {
            var cts = new CancellationTokenSource();
            cancels.Add(cts);
            queued.Add(pair.Left.SendFdsAsync(SeqMessage(stalledSeq + i, MessageLength), new SafeHandle[] { file }, cts.Token).AsTask());
        }

        Task stalledTask = stalled.AsTask();
        Assert.All(queued, q => Assert.False(q.IsCompleted));
        cancels.ForEach(c => c.Cancel());
        foreach (Task q in queued)
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => q.WaitAsync(Guard));
        }

        Task end = pair.Left.SendFdsAsync(SeqMessage(EndMarker, 10), new SafeHandle[] { file }).AsTask();

        // Drain: parse messages until the end marker.
        var stream = new MemoryStream();
        var data = new byte[65536];
        var slots = new SafeFileHandle?[4];
        int fds = 0;
        var seen = new List<int>();
        int parsed = 0;
        while (!seen.Contains(EndMarker))
        {
            FdReceiveResult result = await pair.Right.ReceiveFdsAsync(data, slots).AsTask().WaitAsync(Guard);
            Assert.NotEqual(0, result.BytesReceived);
            fds += result.FdCount;
            Descriptors.DisposeAll(slots);
            stream.Write(data, 0, result.BytesReceived);
            byte[] all = stream.GetBuffer();
            while (stream.Length - parsed >= 6)
            {
                int length = BinaryPrimitives.ReadInt32LittleEndian(all.AsSpan(parsed + 2));
                if (stream.Length - parsed < 6 + length)
                {
                    break;
                }

                ushort seq = BinaryPrimitives.ReadUInt16LittleEndian(all.AsSpan(parsed));
                Assert.Equal(SeqMessage(seq, length), all.AsSpan(parsed, 6 + length).ToArray());
                seen.Add(seq);
                parsed += 6 + length;
            }
        }

        await end.WaitAsync(Guard);
        bool stalledDelivered;
        try
        {
            await stalledTask.WaitAsync(Guard);
            stalledDelivered = true;
        }
        catch (OperationCanceledException)
        {
            stalledDelivered = false;
        }

        if (stalledDelivered)
        {
            delivered.Add(stalledSeq);
        }

        delivered.Add(EndMarker);
        Assert.Equal(delivered, seen);
        Assert.Equal(delivered.Count, fds);
        Assert.Equal(stream.Length, parsed);
        Assert.False(Pipe.IsReadable(pair.Right));
        cancels.ForEach(c => c.Dispose());
    }

    [Fact]
    public void SendFds_WhenStalledPastSendTimeout_ThrowsTimedOutAndWritesNothing()
    {
        using var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile("timeout");
        int filler = SocketFill.FillSendBuffer(pair.Left, Filler);
        pair.Left.SendTimeout = 50;

        SocketException e = Assert.Throws<SocketException>(() => pair.Left.SendFds(Pattern(0x77, 10), [file]));
        Assert.Equal(SocketError.TimedOut, e.SocketErrorCode);

        SocketFill.DrainFiller(pair.Right, filler, Filler);
        Assert.False(Pipe.IsReadable(pair.Right));
        pair.Left.SendFd(file);
        using SafeFileHandle received = pair.Right.ReceiveFd();
        Assert.Equal("timeout", Descriptors.ReadAll(received));
    }

    [Fact]
    public async Task SendFds_BehindAStalledSend_TimesOutWithinItsSendTimeout_AndWritesNothing()
    {
        using var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile("stalled");
        using SafeFileHandle other = Descriptors.TempFile("timed out");
        int filler = SocketFill.FillSendBuffer(pair.Left, Filler);
        Task stalled = pair.Left.SendFdAsync(file).AsTask(); // holds the send gate while it waits
        pair.Left.SendTimeout = 300;

        Task<SocketException> inLine = Task.Run(() => Assert.Throws<SocketException>(() => pair.Left.SendFds(Pattern(0x77, 10), [other])));
        SocketException e = await inLine.WaitAsync(Guard);
        Assert.Equal(SocketError.TimedOut, e.SocketErrorCode);

        SocketFill.DrainFiller(pair.Right, filler, Filler);
        await stalled.WaitAsync(Guard);
        using SafeFileHandle received = pair.Right.ReceiveFd();
        Assert.Equal("stalled", Descriptors.ReadAll(received));
        Assert.False(Pipe.IsReadable(pair.Right)); // nothing of the timed-out call
    }

    [Fact]
    public async Task SendAsync_WithAnAlreadyCanceledToken_WritesNothing()
    {
        using var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await pair.Left.SendFdAsync(file, new CancellationToken(true)));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await pair.Left.SendSocketAsync(pair.Left, new CancellationToken(true)));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(
            async () => await pair.Left.SendFdsAsync(new byte[1], new SafeHandle[] { file }, new CancellationToken(true)));

        Assert.False(Pipe.IsReadable(pair.Right));
        Assert.False(file.IsClosed);
    }

    private static byte[] Pattern(byte value, int length)
    {
        var bytes = new byte[length];
        bytes.AsSpan().Fill(value);
        return bytes;
    }

    private static byte[] SeqMessage(int seq, int length)
    {
        var message = new byte[6 + length];
        BinaryPrimitives.WriteUInt16LittleEndian(message, (ushort)seq);
        BinaryPrimitives.WriteInt32LittleEndian(message.AsSpan(2), length);
        message.AsSpan(6).Fill((byte)((seq * 7) + 1));
        return message;
    }
}

/// <summary>Cancellation racing completion, counted: every descriptor is received once or stays in the socket.</summary>
[Collection(DescriptorsCollection.Name)]
public class CancellationDescriptorCountTests(ITestOutputHelper output)
{
    [Fact]
    public async Task CancellationRacingCompletion_EveryDescriptorIsReceivedOnceOrStaysInTheSocket()
    {
        const int Sent = 600;
        using var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile();
        string target = Descriptors.Target(file);
        var baseline = DescriptorSnapshot.Take();
        var random = new Random(20240611);

        Task sender = Task.Run(async () =>
        {
            var jitter = new Random(7);
            for (int i = 0; i < Sent; i++)
            {
                await pair.Left.SendFdAsync(file);
                if (jitter.Next(3) == 0)
                {
                    await Task.Delay(1); // the receiver is often waiting when its token fires
                }
            }
        });

        int received = 0;
        int canceled = 0;
        int canceledWhileWaiting = 0;
        DateTime deadline = DateTime.UtcNow.AddSeconds(30);
        while (received < Sent)
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out: {received} received, {canceled} canceled");
            using var cts = new CancellationTokenSource();
            ValueTask<SafeFileHandle> receive = pair.Right.ReceiveFdAsync(cts.Token);
            switch (random.Next(4))
            {
                case 0:
                    cts.Cancel();
                    break;
                case 1:
                    Thread.SpinWait(random.Next(2000));
                    cts.Cancel();
                    break;
                case 2:
                    cts.CancelAfter(random.Next(2));
                    break;
                default:
                    break;
            }

            bool waiting = !receive.IsCompleted;
            try
            {
                using SafeFileHandle handle = await receive;
                Assert.Equal(target, Descriptors.Target(handle));
                received++;
            }
            catch (OperationCanceledException)
            {
                canceled++;
                canceledWhileWaiting += waiting ? 1 : 0;
                if (sender.IsCompleted && pair.Right.Available == 0 && received < Sent)
                {
                    Assert.Fail($"a canceled receive lost a descriptor: {received} of {Sent} received, socket empty");
                }
            }
        }

        await sender;
        output.WriteLine($"received {received}, canceled {canceled} ({canceledWhileWaiting} while waiting)");
        Assert.True(canceledWhileWaiting > 20, "precondition: cancellation must often hit a waiting receive");
        Assert.Equal(0, pair.Right.Available);
        DescriptorSnapshot.AssertBackTo(baseline);
    }
}
