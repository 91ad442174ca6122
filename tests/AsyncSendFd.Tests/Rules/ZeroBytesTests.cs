using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;
using Xunit.Abstractions;
using static AsyncSendFd.Tests.Support.Timeouts;

namespace AsyncSendFd.Tests.Rules;

/// <summary>
/// README rule "Zero bytes": an empty buffer on a stream, an empty datagram, an empty seqpacket message, a descriptor
/// that rides on no data byte, and end of stream. Each is either refused up front or reported for what it is, never as
/// a false end of stream.
/// </summary>
public class ZeroBytesTests
{
    // An empty buffer on a stream socket could never tell data from end of stream.

    [Fact]
    public async Task ReceiveFds_OnAStreamWithAnEmptyBuffer_ThrowsArgumentExceptionAndReadsNothing()
    {
        using var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile("waiting");
        pair.Left.SendFds("data"u8, [file]);
        var slots = new SafeFileHandle?[2];

        Assert.Throws<ArgumentException>("data", () => pair.Right.ReceiveFds([], slots));
        await Assert.ThrowsAsync<ArgumentException>("data", async () => await pair.Right.ReceiveFdsAsync(Memory<byte>.Empty, slots));

        var data = new byte[8];
        Assert.Equal(new FdReceiveResult(4, 1), pair.Right.ReceiveFds(data, slots));
        using SafeFileHandle received = slots[0]!;
        Assert.Equal("waiting", Descriptors.ReadAll(received));
    }

    [Theory]
    [InlineData(SocketType.Dgram)]
    [LinuxInlineData(SocketType.Seqpacket)]
    public async Task ReceiveFds_OnMessageSocketsWithAnEmptyBuffer_ReceivesADescriptorOnlyMessage(SocketType type)
    {
        using var pair = SocketPair.Create(type);
        using SafeFileHandle file = Descriptors.TempFile("no data");
        var slots = new SafeFileHandle?[2];

        pair.Left.SendFds([], [file]);
        Assert.Equal(new FdReceiveResult(0, 1), pair.Right.ReceiveFds([], slots));
        slots[0]!.Dispose();

        pair.Left.SendFds([], [file]);
        Assert.Equal(new FdReceiveResult(0, 1), await pair.Right.ReceiveFdsAsync(Memory<byte>.Empty, slots).AsTask().WaitAsync(Guard));
        using SafeFileHandle received = slots[0]!;
        Assert.Equal("no data", Descriptors.ReadAll(received));
    }

    // Datagram sockets have no end of stream: an empty datagram is a message.

    [Fact]
    public async Task ReceiveFds_OnAnEmptyDatagram_ReturnsZeroZero_AndTheNextReceiveGetsTheNextDatagram()
    {
        using var pair = SocketPair.Create(SocketType.Dgram);
        using SafeFileHandle file = Descriptors.TempFile("next");
        var data = new byte[8];
        var slots = new SafeFileHandle?[2];
        pair.Left.SendFds([], []);
        pair.Left.SendFds("next"u8, [file]);
        pair.Left.SendFds([], []);

        Assert.Equal(new FdReceiveResult(0, 0), pair.Right.ReceiveFds(data, slots));
        Assert.Equal(new FdReceiveResult(4, 1), pair.Right.ReceiveFds(data, slots));
        slots[0]!.Dispose();
        Assert.Equal(new FdReceiveResult(0, 0), await pair.Right.ReceiveFdsAsync(data, slots).AsTask().WaitAsync(Guard));
        Assert.False(Pipe.IsReadable(pair.Right));
    }

    [Fact]
    public async Task ReceiveFdAndReceiveSocket_OnAnEmptyDatagram_ThrowIOExceptionNotEndOfStream()
    {
        using var pair = SocketPair.Create(SocketType.Dgram);
        using SafeFileHandle file = Descriptors.TempFile("after");
        for (int i = 0; i < 4; i++)
        {
            pair.Left.SendFds([], []);
        }

        pair.Left.SendFd(file);

        // Exactly IOException ("no descriptor"): EndOfStreamException derives from it and would say the peer is gone.
        Assert.IsType<IOException>(Record.Exception(() => pair.Right.ReceiveFd()));
        Assert.IsType<IOException>(await Record.ExceptionAsync(async () => await pair.Right.ReceiveFdAsync().AsTask().WaitAsync(Guard)));
        Assert.IsType<IOException>(Record.Exception(() => pair.Right.ReceiveSocket()));
        Assert.IsType<IOException>(await Record.ExceptionAsync(async () => await pair.Right.ReceiveSocketAsync().AsTask().WaitAsync(Guard)));

        using SafeFileHandle received = pair.Right.ReceiveFd();
        Assert.Equal("after", Descriptors.ReadAll(received));
    }

    // Seqpacket: the kernel reports an empty message and end of stream alike (recvmsg returns 0 for both).

    [SupportedOSPlatform("linux")] // seqpacket
    [LinuxFact]
    public void ReceiveFds_OnSeqpacket_AnEmptyMessageReadsAsEndOfStream_ButIsConsumed()
    {
        using var pair = SocketPair.Create(SocketType.Seqpacket);
        using SafeFileHandle file = Descriptors.TempFile("after empty");
        var data = new byte[8];
        var slots = new SafeFileHandle?[2];
        pair.Left.SendFds([], []);
        pair.Left.SendFds([], []);
        pair.Left.SendFds("next"u8, [file]);

        Assert.Equal(new FdReceiveResult(0, 0), pair.Right.ReceiveFds(data, slots));
        Assert.Throws<EndOfStreamException>(() => pair.Right.ReceiveFd());
        Assert.Equal(new FdReceiveResult(4, 1), pair.Right.ReceiveFds(data, slots));
        using SafeFileHandle received = slots[0]!;
        Assert.Equal("after empty", Descriptors.ReadAll(received));

        pair.Left.Dispose();
        Assert.Equal(new FdReceiveResult(0, 0), pair.Right.ReceiveFds(data, slots));
        Assert.Equal(new FdReceiveResult(0, 0), pair.Right.ReceiveFds(data, slots));
    }

    // ReceiveFd* takes exactly one descriptor on 1 to 4 data bytes.

    [Theory]
    [InlineData(SocketType.Dgram)]
    [LinuxInlineData(SocketType.Seqpacket)]
    public async Task ReceiveFd_OfADescriptorOnNoDataByte_ClosesItAndThrowsIOException(SocketType type)
    {
        using var pair = SocketPair.Create(type);
        using var pipe = Pipe.Create();
        using SafeFileHandle file = Descriptors.TempFile("good");
        pair.Left.SendFds([], [pipe.Write]);
        pair.Left.SendFds([], [pipe.Write]);
        pair.Left.SendFds([], [pair.Left.SafeHandle]);
        pair.Left.SendFd(file);
        pipe.Write.Dispose();

        Assert.IsType<IOException>(Record.Exception(() => pair.Right.ReceiveFd()));
        Assert.IsType<IOException>(await Record.ExceptionAsync(async () => await pair.Right.ReceiveFdAsync().AsTask().WaitAsync(Guard)));
        Assert.True(pipe.AllWritersClosed());
        Assert.IsType<IOException>(Record.Exception(() => pair.Right.ReceiveSocket()));

        using SafeFileHandle received = pair.Right.ReceiveFd();
        Assert.Equal("good", Descriptors.ReadAll(received));
    }

    // End of stream.

    [Theory]
    [InlineData(SocketType.Stream)]
    [LinuxInlineData(SocketType.Seqpacket)]
    public async Task ReceiveFds_AtEndOfStream_ReturnsZeroZero(SocketType type)
    {
        using var pair = SocketPair.Create(type);
        pair.Left.Dispose();
        var slots = new SafeFileHandle?[4];

        Assert.Equal(new FdReceiveResult(0, 0), pair.Right.ReceiveFds(new byte[16], slots));
        Assert.Equal(new FdReceiveResult(0, 0), await pair.Right.ReceiveFdsAsync(new byte[16], slots).AsTask().WaitAsync(Guard));
        Assert.Equal(new FdReceiveResult(0, 0), pair.Right.ReceiveFds(new byte[16], slots));
        Assert.All(slots, Assert.Null);
    }

    [Theory]
    [InlineData(SocketType.Stream)]
    [LinuxInlineData(SocketType.Seqpacket)]
    public async Task ReceiveFd_AndReceiveSocket_AtEndOfStream_ThrowEndOfStreamException(SocketType type)
    {
        using var pair = SocketPair.Create(type);
        pair.Left.Dispose();

        Assert.Throws<EndOfStreamException>(() => pair.Right.ReceiveFd());
        Assert.Throws<EndOfStreamException>(() => pair.Right.ReceiveSocket());
        await Assert.ThrowsAsync<EndOfStreamException>(async () => await pair.Right.ReceiveFdAsync().AsTask().WaitAsync(Guard));
        await Assert.ThrowsAsync<EndOfStreamException>(async () => await pair.Right.ReceiveSocketAsync().AsTask().WaitAsync(Guard));
    }

    [Fact]
    public async Task ReceiveAsync_WaitingWhenThePeerCloses_SeesEndOfStream()
    {
        using var pair = SocketPair.Create();
        var slots = new SafeFileHandle?[1];
        Task<FdReceiveResult> fds = pair.Right.ReceiveFdsAsync(new byte[16], slots).AsTask();
        Assert.False(fds.IsCompleted);

        pair.Left.Shutdown(SocketShutdown.Send);

        Assert.Equal(new FdReceiveResult(0, 0), await fds.WaitAsync(Guard));
        await Assert.ThrowsAsync<EndOfStreamException>(async () => await pair.Right.ReceiveFdAsync().AsTask().WaitAsync(Guard));
    }

    [Fact]
    public async Task ReceiveFdAsync_WaitingWhenThePeerCloses_ThrowsEndOfStreamException()
    {
        using var pair = SocketPair.Create();
        Task<SafeFileHandle> fd = pair.Right.ReceiveFdAsync().AsTask();
        Task<Socket> socket = pair.Right.ReceiveSocketAsync().AsTask();
        Assert.False(fd.IsCompleted);

        pair.Left.Dispose();

        await Assert.ThrowsAsync<EndOfStreamException>(() => fd.WaitAsync(Guard));
        await Assert.ThrowsAsync<EndOfStreamException>(() => socket.WaitAsync(Guard));
    }

    [Fact]
    public void ReceiveFd_AfterTheLastMessage_DeliversItThenEndOfStream()
    {
        using var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile("last");
        pair.Left.SendFd(file);
        pair.Left.Dispose();

        using (SafeFileHandle received = pair.Right.ReceiveFd())
        {
            Assert.Equal("last", Descriptors.ReadAll(received));
        }

        Assert.Throws<EndOfStreamException>(() => pair.Right.ReceiveFd());
    }
}

/// <summary>A raw peer that hangs up mid-frame: the bytes that came, then end of stream, and no descriptor left open.</summary>
[Collection(DescriptorsCollection.Name)]
public class ZeroBytesFromARawPeerTests(ITestOutputHelper output)
{
    [Trait("Category", "Python")]
    [Fact]
    public void PeerDisconnectsMidFrame_ReceiverSeesTheBytesThenEndOfStream_NothingLeaks()
    {
        using var peer = RawSendmsgPeer.Start("""
            def body(s):
                # A frame announcing 100 bytes, of which 46 arrive; the descriptor rides on the first byte.
                s.sendmsg([struct.pack('<I', 100) + b'p' * 46], [rights([marked('half')])])
                s.close()
            """);
        var baseline = DescriptorSnapshot.Take();
        peer.Go();

        var data = new byte[104];
        var slots = new SafeFileHandle?[4];
        int bytes = 0;
        int fds = 0;
        while (true)
        {
            FdReceiveResult result = peer.Socket.ReceiveFds(data.AsSpan(bytes), slots);
            if (result == new FdReceiveResult(0, 0))
            {
                break;
            }

            bytes += result.BytesReceived;
            for (int i = 0; i < result.FdCount; i++)
            {
                Assert.Equal("half", TestNative.ReadText(slots[i]!));
                fds++;
            }

            Descriptors.DisposeAll(slots);
        }

        Assert.Equal(50, bytes);
        Assert.Equal(1, fds);
        Assert.Equal(100, BitConverter.ToInt32(data, 0));
        Assert.Throws<EndOfStreamException>(() => peer.Socket.ReceiveFd());

        // Writing to the dead peer is a SocketException (EPIPE), never SIGPIPE.
        using SafeFileHandle file = Descriptors.TempFile();
        SocketException dead = Assert.Throws<SocketException>(() => peer.Socket.SendFd(file));
        output.WriteLine($"send to closed peer: {dead.SocketErrorCode} ({dead.Message})");
        file.Dispose();
        DescriptorSnapshot.AssertBackTo(baseline);
    }

    [Trait("Category", "Python")]
    [Fact]
    public void PeerDisconnectsAfterHalfASingleDescriptorFrame_ReceiveFdReturnsIt_ThenEndOfStream()
    {
        using var peer = RawSendmsgPeer.Start("""
            def body(s):
                s.sendmsg([b'\0\0'], [rights([marked('two-bytes')])])
                s.close()
            """);
        var baseline = DescriptorSnapshot.Take();
        peer.Go();

        using (SafeFileHandle handle = peer.Socket.ReceiveFd())
        {
            Assert.Equal("two-bytes", TestNative.ReadText(handle));
        }

        Assert.Throws<EndOfStreamException>(() => peer.Socket.ReceiveFd());
        DescriptorSnapshot.AssertBackTo(baseline);
    }
}
