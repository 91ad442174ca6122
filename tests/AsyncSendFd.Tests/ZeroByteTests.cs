using System.Net.Sockets;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;
using static AsyncSendFd.Tests.Support.Timeouts;

namespace AsyncSendFd.Tests;

/// <summary>
/// Zero bytes: an empty buffer on a stream, an empty datagram, an empty seqpacket message, and a descriptor that
/// rides on no data byte. Each is either refused up front or reported for what it is, never as a false end of stream.
/// </summary>
public class ZeroByteTests
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
    [InlineData(SocketType.Seqpacket)]
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

    [Fact]
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
    [InlineData(SocketType.Seqpacket)]
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
}
