using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Text;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;
using Xunit.Abstractions;
using static AsyncSendFd.Tests.Support.Timeouts;

namespace AsyncSendFd.Tests.Rules;

/// <summary>
/// README rule "Messages stay whole": concurrent sends never interleave bytes, concurrent receives never split a
/// message, a partial write is finished without control data, and a receive stops where a descriptor-carrying send
/// ends.
/// </summary>
public class WholeMessagesTests
{
    private const int Senders = 8;
    private const int MessagesPerSender = 200;
    private const int HeaderLength = 7; // tag, sequence (u16), payload length (i32)

    [Fact]
    public async Task ConcurrentSendFdsAsync_OnStream_NeverInterleaveMessagesAndDescriptorsRideOnTheirMessage()
    {
        using var pair = SocketPair.Create();
        pair.Left.SendBufferSize = 16384; // forces partial writes, which must be finished without control data
        SafeFileHandle[] files = [.. Enumerable.Range(0, Senders).Select(i => Descriptors.TempFile($"sender {i}"))];
        try
        {
            Task<Chunks> receiver = Task.Run(() => ReceiveStreamAsync(pair.Right, ExpectedBytes()));
            Task[] senders = [.. Enumerable.Range(0, Senders).Select(s => Task.Run(async () =>
            {
                for (int seq = 0; seq < MessagesPerSender; seq++)
                {
                    await pair.Left.SendFdsAsync(Message(s, seq), new SafeHandle[] { files[s] });
                }
            }))];

            await Task.WhenAll(senders).WaitAsync(Guard);
            VerifyStream(await receiver.WaitAsync(Guard), files);
        }
        finally
        {
            Descriptors.DisposeAll(files);
        }
    }

    [Fact]
    public async Task ConcurrentSendFds_FromManyThreads_OnStream_NeverInterleaveMessages()
    {
        using var pair = SocketPair.Create();
        pair.Left.SendBufferSize = 16384;
        SafeFileHandle[] files = [.. Enumerable.Range(0, Senders).Select(i => Descriptors.TempFile($"thread {i}"))];
        try
        {
            Task<Chunks> receiver = Task.Run(() => ReceiveStreamAsync(pair.Right, ExpectedBytes()));
            Thread[] senders = [.. Enumerable.Range(0, Senders).Select(s => new Thread(() =>
            {
                for (int seq = 0; seq < MessagesPerSender; seq++)
                {
                    pair.Left.SendFds(Message(s, seq), [files[s]]);
                }
            }))];
            Array.ForEach(senders, t => t.Start());

            Chunks chunks = await receiver.WaitAsync(Guard);
            Assert.All(senders, t => Assert.True(t.Join(Guard)));
            VerifyStream(chunks, files);
        }
        finally
        {
            Descriptors.DisposeAll(files);
        }
    }

    [SupportedOSPlatform("linux")] // seqpacket
    [LinuxFact]
    public async Task MixedSyncAndAsyncSenders_OnSeqpacket_DeliverEveryMessageWhole()
    {
        using var pair = SocketPair.Create(SocketType.Seqpacket);
        using SafeFileHandle file = Descriptors.TempFile("seqpacket");
        var received = new ConcurrentBag<(int Sender, int Seq)>();
        Task receiver = Task.Run(async () =>
        {
            var data = new byte[8192];
            var slots = new SafeFileHandle?[4];
            for (int i = 0; i < Senders * MessagesPerSender; i++)
            {
                FdReceiveResult result = await pair.Right.ReceiveFdsAsync(data, slots);
                Assert.Equal(1, result.FdCount);
                Descriptors.DisposeAll(slots);
                (int sender, int seq) = ParseWholeMessage(data.AsSpan(0, result.BytesReceived));
                received.Add((sender, seq));
            }
        });
        Task[] senders = [.. Enumerable.Range(0, Senders).Select(s => s % 2 == 0
            ? Task.Run(async () =>
            {
                for (int seq = 0; seq < MessagesPerSender; seq++)
                {
                    await pair.Left.SendFdsAsync(Message(s, seq, maxPayload: 4000), new SafeHandle[] { file });
                }
            })
            : Task.Factory.StartNew(
                () =>
                {
                    for (int seq = 0; seq < MessagesPerSender; seq++)
                    {
                        pair.Left.SendFds(Message(s, seq, maxPayload: 4000), [file]);
                    }
                },
                TaskCreationOptions.LongRunning))];

        await Task.WhenAll(senders).WaitAsync(Guard);
        await receiver.WaitAsync(Guard);
        Assert.Equal(Senders * MessagesPerSender, received.Distinct().Count());
    }

    [SupportedOSPlatform("linux")] // seqpacket
    [LinuxFact]
    public async Task ConcurrentReceiveFdsAsync_OnSeqpacket_NeverSplitAMessage()
    {
        const int Messages = 2000;
        using var pair = SocketPair.Create(SocketType.Seqpacket);
        using var pipe = Pipe.Create();
        var seen = new ConcurrentBag<int>();

        Task[] receivers = [.. Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            var data = new byte[256];
            var slots = new SafeFileHandle?[8];
            while (true)
            {
                FdReceiveResult result = await pair.Right.ReceiveFdsAsync(data, slots);
                if (result == default)
                {
                    return;
                }

                int index = BinaryPrimitives.ReadInt32LittleEndian(data);
                Assert.Equal(4 + (index % 50), result.BytesReceived);
                Assert.DoesNotContain(data.AsSpan(4, result.BytesReceived - 4).ToArray(), b => b != (byte)index);
                Assert.Equal(1 + (index % 3), result.FdCount);
                Descriptors.DisposeAll(slots);
                seen.Add(index);
            }
        }))];

        for (int i = 0; i < Messages; i++)
        {
            byte[] message = new byte[4 + (i % 50)];
            BinaryPrimitives.WriteInt32LittleEndian(message, i);
            message.AsSpan(4).Fill((byte)i);
            await pair.Left.SendFdsAsync(message, Enumerable.Repeat<SafeHandle>(pipe.Write, 1 + (i % 3)).ToArray());
        }

        pair.Left.Shutdown(SocketShutdown.Send);
        await Task.WhenAll(receivers).WaitAsync(Guard);
        Assert.Equal(Enumerable.Range(0, Messages), seen.Order());
    }

    [Fact]
    public async Task ConcurrentReceiveFd_SyncAndAsync_OnStream_EachGetWholeMessagesAndNoneIsLost()
    {
        const int Messages = 2000;
        using var pair = SocketPair.Create();
        using var pipe = Pipe.Create();
        int received = 0;

        Task Receive(Func<SafeFileHandle> receiveOne) => Task.Factory.StartNew(
            () =>
            {
                while (true)
                {
                    try
                    {
                        using SafeFileHandle fd = receiveOne();
                        Interlocked.Increment(ref received);
                    }
                    catch (EndOfStreamException)
                    {
                        return;
                    }
                }
            },
            TaskCreationOptions.LongRunning);

        Task[] receivers =
        [
            Receive(() => pair.Right.ReceiveFd()),
            Receive(() => pair.Right.ReceiveFd()),
            Receive(() => pair.Right.ReceiveFdAsync().AsTask().GetAwaiter().GetResult()),
            Receive(() => pair.Right.ReceiveFdAsync().AsTask().GetAwaiter().GetResult()),
        ];

        for (int i = 0; i < Messages; i++)
        {
            await pair.Left.SendFdAsync(pipe.Write);
        }

        pair.Left.Shutdown(SocketShutdown.Send);
        await Task.WhenAll(receivers).WaitAsync(Guard);
        Assert.Equal(Messages, received);
    }

    private static byte[] Message(int sender, int seq, int maxPayload = 6000)
    {
        int length = 1 + ((seq * 977) + (sender * 131)) % maxPayload;
        var message = new byte[HeaderLength + length];
        message[0] = (byte)(sender + 1);
        BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(1), (ushort)seq);
        BinaryPrimitives.WriteInt32LittleEndian(message.AsSpan(3), length);
        message.AsSpan(HeaderLength).Fill((byte)(0xA0 + sender));
        return message;
    }

    private static (int Sender, int Seq) ParseWholeMessage(ReadOnlySpan<byte> message)
    {
        int sender = message[0] - 1;
        int seq = BinaryPrimitives.ReadUInt16LittleEndian(message[1..]);
        int length = BinaryPrimitives.ReadInt32LittleEndian(message[3..]);
        Assert.Equal(HeaderLength + length, message.Length);
        Assert.False(message[HeaderLength..].ContainsAnyExcept((byte)(0xA0 + sender)), $"message {sender}/{seq} has foreign bytes");
        return (sender, seq);
    }

    private static long ExpectedBytes()
    {
        long total = 0;
        for (int s = 0; s < Senders; s++)
        {
            for (int seq = 0; seq < MessagesPerSender; seq++)
            {
                total += Message(s, seq).Length;
            }
        }

        return total;
    }

    /// <summary>The stream as read, and where each recvmsg with descriptors began and ended.</summary>
    private sealed record Chunks(byte[] Stream, List<(long Start, long End, string[] Targets)> WithDescriptors);

    private static async Task<Chunks> ReceiveStreamAsync(Socket socket, long expected)
    {
        var stream = new MemoryStream();
        var withDescriptors = new List<(long, long, string[])>();
        var data = new byte[65536];
        var slots = new SafeFileHandle?[16];
        while (stream.Length < expected)
        {
            FdReceiveResult result = await socket.ReceiveFdsAsync(data, slots);
            Assert.NotEqual(0, result.BytesReceived);
            if (result.FdCount > 0)
            {
                string[] targets = [.. slots[..result.FdCount].Select(s => Descriptors.Target(s!))];
                withDescriptors.Add((stream.Length, stream.Length + result.BytesReceived, targets));
                Descriptors.DisposeAll(slots);
            }

            stream.Write(data, 0, result.BytesReceived);
        }

        return new Chunks(stream.ToArray(), withDescriptors);
    }

    /// <summary>
    /// Parses the stream into messages (any interleaving shows up as foreign bytes or a broken header), checks that
    /// each sender's messages arrive in order, and that each message's descriptor came with the recvmsg that read
    /// its first byte (the kernel ends such a recvmsg right after that chunk).
    /// </summary>
    private static void VerifyStream(Chunks chunks, SafeFileHandle[] files)
    {
        byte[] stream = chunks.Stream;
        var nextSeq = new int[Senders];
        var starts = new List<(long Offset, int Sender)>();
        int offset = 0;
        while (offset < stream.Length)
        {
            int sender = stream[offset] - 1;
            Assert.InRange(sender, 0, Senders - 1);
            int length = BinaryPrimitives.ReadInt32LittleEndian(stream.AsSpan(offset + 3));
            (int parsedSender, int seq) = ParseWholeMessage(stream.AsSpan(offset, HeaderLength + length));
            Assert.Equal(nextSeq[parsedSender]++, seq);
            starts.Add((offset, sender));
            offset += HeaderLength + length;
        }

        Assert.Equal(stream.Length, offset);
        Assert.All(nextSeq, n => Assert.Equal(MessagesPerSender, n));
        Assert.Equal(starts.Count, chunks.WithDescriptors.Count);
        for (int i = 0; i < starts.Count; i++)
        {
            (long start, long end, string[] targets) = chunks.WithDescriptors[i];
            Assert.InRange(starts[i].Offset, start, end - 1);
            Assert.True(i + 1 == starts.Count || starts[i + 1].Offset >= end, "a recvmsg carried two messages' first bytes");
            Assert.Equal([Descriptors.Target(files[starts[i].Sender])], targets);
        }
    }

    [Fact]
    public async Task SendFdsAsync_WithPayloadLargerThanTheSocketBuffer_DeliversEveryByteAndTheDescriptorsOnTheFirst()
    {
        using var pair = SocketPair.Create();
        pair.Left.SendBufferSize = 8192;
        using SafeFileHandle file = Descriptors.TempFile("big");
        byte[] payload = new byte[1 << 20];
        Random.Shared.NextBytes(payload);

        Task send = pair.Left.SendFdsAsync(payload, new SafeHandle[] { file, file }).AsTask();

        var received = new MemoryStream();
        var data = new byte[65536];
        var slots = new SafeFileHandle?[4];
        var fdsAt = new List<(long Offset, int Count)>();
        while (received.Length < payload.Length)
        {
            FdReceiveResult result = await pair.Right.ReceiveFdsAsync(data, slots).AsTask().WaitAsync(Guard);
            Assert.NotEqual(0, result.BytesReceived);
            if (result.FdCount > 0)
            {
                fdsAt.Add((received.Length, result.FdCount));
                Assert.Equal("big", Descriptors.ReadAll(slots[0]!));
                Descriptors.DisposeAll(slots);
            }

            received.Write(data, 0, result.BytesReceived);
        }

        await send.WaitAsync(Guard);
        Assert.Equal(payload, received.ToArray());
        Assert.Equal([(0L, 2)], fdsAt);
        Assert.False(Pipe.IsReadable(pair.Right));
    }

    [Fact]
    public void SendFds_WithPayloadLargerThanTheSocketBuffer_BlocksUntilTheWholeMessageIsWritten()
    {
        using var pair = SocketPair.Create();
        pair.Left.SendBufferSize = 8192;
        using SafeFileHandle file = Descriptors.TempFile("big sync");
        byte[] payload = new byte[512 * 1024];
        Random.Shared.NextBytes(payload);

        var sender = new Thread(() => pair.Left.SendFds(payload, [file]));
        sender.Start();

        var received = new MemoryStream();
        var data = new byte[65536];
        var slots = new SafeFileHandle?[4];
        int fdCount = 0;
        while (received.Length < payload.Length)
        {
            FdReceiveResult result = pair.Right.ReceiveFds(data, slots);
            Assert.NotEqual(0, result.BytesReceived);
            if (result.FdCount > 0)
            {
                Assert.Equal(0, received.Length);
                fdCount += result.FdCount;
                Descriptors.DisposeAll(slots);
            }

            received.Write(data, 0, result.BytesReceived);
        }

        Assert.True(sender.Join(Guard));
        Assert.Equal(1, fdCount);
        Assert.Equal(payload, received.ToArray());
    }

    [Fact]
    public void ReceiveFds_OnStream_StopsAtTheEndOfTheDescriptorCarryingSend()
    {
        using var pair = SocketPair.Create();
        using SafeFileHandle first = Descriptors.TempFile("first");
        using SafeFileHandle second = Descriptors.TempFile("second");

        pair.Left.SendFds("aaaa"u8, [first]);
        pair.Left.SendFds("bbbb"u8, [second]);

        var data = new byte[64];
        var slots = new SafeFileHandle?[4];
        Assert.Equal(new FdReceiveResult(4, 1), pair.Right.ReceiveFds(data, slots));
        Assert.Equal("aaaa", Encoding.ASCII.GetString(data, 0, 4));
        Assert.Equal("first", Descriptors.ReadAll(slots[0]!));
        Descriptors.DisposeAll(slots);

        Assert.Equal(new FdReceiveResult(4, 1), pair.Right.ReceiveFds(data, slots));
        Assert.Equal("bbbb", Encoding.ASCII.GetString(data, 0, 4));
        Assert.Equal("second", Descriptors.ReadAll(slots[0]!));
        Descriptors.DisposeAll(slots);
    }

    [Theory]
    [InlineData(SocketType.Dgram)]
    [LinuxInlineData(SocketType.Seqpacket)]
    public void ReceiveFds_OnMessageSockets_KeepsMessageBoundaries(SocketType type)
    {
        using var pair = SocketPair.Create(type);
        using SafeFileHandle file = Descriptors.TempFile();

        pair.Left.SendFds("first"u8, [file]);
        pair.Left.SendFds("second"u8, []);
        pair.Left.SendFds([], [file]);

        var data = new byte[32];
        var slots = new SafeFileHandle?[1];
        Assert.Equal(new FdReceiveResult(5, 1), pair.Right.ReceiveFds(data, slots));
        slots[0]!.Dispose();
        Assert.Equal(new FdReceiveResult(6, 0), pair.Right.ReceiveFds(data, slots));
        Assert.Equal(new FdReceiveResult(0, 1), pair.Right.ReceiveFds(data, slots));
        slots[0]!.Dispose();
    }
}

/// <summary>
/// README rule "The library owns every read", against a raw peer: plain bytes written around descriptor messages are
/// glued to them on a stream, and each descriptor still arrives with its own message.
/// </summary>
[Collection(DescriptorsCollection.Name)]
public class WholeMessagesFromARawPeerTests(ITestOutputHelper output)
{
    [Trait("Category", "Python")]
    [Fact]
    public void PeerSendsPlainBytesBeforeADescriptorMessage_BytesAreGluedInFront_DescriptorArrivesWithItsMessage()
    {
        using var peer = RawSendmsgPeer.Start("""
            def body(s):
                s.sendall(b'plain-')
                s.sendmsg([b'fd'], [rights([marked('e1')])])
                s.sendall(b'tail')
                s.sendmsg([b'next'], [rights([marked('e2')])])
                s.sendall(b'junk')
                good(s)
            """);
        var baseline = DescriptorSnapshot.Take();
        peer.Go();
        peer.WaitForExit(); // everything queued, so the glue is deterministic

        var data = new byte[64];
        var slots = new SafeFileHandle?[4];
        FdReceiveResult first = peer.Socket.ReceiveFds(data, slots);
        Assert.Equal(new FdReceiveResult(8, 1), first);
        Assert.Equal("plain-fd", System.Text.Encoding.ASCII.GetString(data, 0, 8));
        Assert.Equal("e1", TestNative.ReadText(slots[0]!));
        Descriptors.DisposeAll(slots);

        FdReceiveResult second = peer.Socket.ReceiveFds(data, slots);
        Assert.Equal(new FdReceiveResult(8, 1), second);
        Assert.Equal("tailnext", System.Text.Encoding.ASCII.GetString(data, 0, 8));
        Assert.Equal("e2", TestNative.ReadText(slots[0]!));
        Descriptors.DisposeAll(slots);

        // Four stray bytes in front of a single-descriptor frame: ReceiveFd reads exactly them and reports
        // "no descriptor"; the descriptor stays with its own frame, which the next ReceiveFd returns.
        IOException stray = Assert.Throws<IOException>(() => peer.Socket.ReceiveFd());
        output.WriteLine($"stray bytes before a frame: {stray.Message}");
        DescriptorSnapshot.AssertBackTo(baseline);

        peer.AssertGoodMessageThenEnd();
        DescriptorSnapshot.AssertBackTo(baseline);
    }
}
