using System.Net.Sockets;
using System.Runtime.InteropServices;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;
using static AsyncSendFd.Tests.Support.Timeouts;

namespace AsyncSendFd.Tests;

/// <summary>
/// Every failed receive closes every descriptor of its message. Each scenario sends copies of a pipe's write end
/// and drops the original: the read end hangs up exactly when no copy survives. The process-wide descriptor
/// count is checked as well, so these run in the non-parallel collection.
/// </summary>
[Collection(DescriptorsCollection.Name)]
public class ReceiveErrorTests
{
    public static TheoryData<SocketType> AllTypes => [SocketType.Stream, SocketType.Dgram, SocketType.Seqpacket];

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void ReceiveFds_WhenPeerSendsMoreThanSlots_ClosesAllAndThrows(SocketType type) => Leak.AssertNone(() =>
    {
        using var pair = SocketPair.Create(type);
        using Pipe pipe = SendCopiesAndDropOriginal(pair.Left, 5, "five"u8);

        var slots = new SafeFileHandle?[2];
        Assert.ThrowsAny<IOException>(() => pair.Right.ReceiveFds(new byte[16], slots));

        Assert.All(slots, Assert.Null);
        Assert.True(pipe.AllWritersClosed());
        AssertConnectionStillWorks(pair);
    });

    [Theory]
    [MemberData(nameof(AllTypes))]
    public Task ReceiveFdsAsync_WhenPeerSendsMoreThanSlots_ClosesAllAndThrows(SocketType type) => Leak.AssertNoneAsync(async () =>
    {
        using var pair = SocketPair.Create(type);
        var slots = new SafeFileHandle?[3];

        // Waiting first: the message arrives while the receive is pending.
        ValueTask<FdReceiveResult> pending = pair.Right.ReceiveFdsAsync(new byte[16], slots);
        using Pipe pipe = SendCopiesAndDropOriginal(pair.Left, 4, "four"u8, receiveIsPending: true);
        await Assert.ThrowsAnyAsync<IOException>(() => pending.AsTask().WaitAsync(Guard));

        Assert.All(slots, Assert.Null);
        Assert.True(pipe.AllWritersClosed());
        AssertConnectionStillWorks(pair);
    });

    [Fact]
    public void ReceiveFds_WithMaxDescriptorsAndOneSlotTooFew_ClosesAllAndThrows() => Leak.AssertNone(() =>
    {
        using var pair = SocketPair.Create();
        using Pipe pipe = SendCopiesAndDropOriginal(pair.Left, SocketFdExtensions.MaxFdsPerMessage, "max"u8);

        var slots = new SafeFileHandle?[SocketFdExtensions.MaxFdsPerMessage - 1];
        Assert.ThrowsAny<IOException>(() => pair.Right.ReceiveFds(new byte[16], slots));

        Assert.All(slots, Assert.Null);
        Assert.True(pipe.AllWritersClosed());
        AssertConnectionStillWorks(pair);
    });

    [Fact]
    public void ReceiveFds_WithNoSlotsAndAMessageWithDescriptors_ClosesAllAndThrows() => Leak.AssertNone(() =>
    {
        using var pair = SocketPair.Create();
        using Pipe pipe = SendCopiesAndDropOriginal(pair.Left, 1, "one"u8);

        Assert.ThrowsAny<IOException>(() => pair.Right.ReceiveFds(new byte[16], []));

        Assert.True(pipe.AllWritersClosed());
        AssertConnectionStillWorks(pair);
    });

    [Theory]
    [InlineData(SocketType.Dgram)]
    [InlineData(SocketType.Seqpacket)]
    public void ReceiveFds_WhenADatagramDoesNotFitTheBuffer_ClosesItsDescriptorsAndThrows(SocketType type) => Leak.AssertNone(() =>
    {
        using var pair = SocketPair.Create(type);
        using Pipe pipe = SendCopiesAndDropOriginal(pair.Left, 3, new byte[100]);

        var slots = new SafeFileHandle?[8];
        Assert.ThrowsAny<IOException>(() => pair.Right.ReceiveFds(new byte[10], slots));

        Assert.All(slots, Assert.Null);
        Assert.True(pipe.AllWritersClosed());
        AssertConnectionStillWorks(pair);
    });

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void ReceiveFd_WhenTheMessageCarriesTwoDescriptors_ClosesBothAndThrows(SocketType type) => Leak.AssertNone(() =>
    {
        using var pair = SocketPair.Create(type);
        using Pipe pipe = SendCopiesAndDropOriginal(pair.Left, 2, new byte[4]);

        Assert.ThrowsAny<IOException>(() => pair.Right.ReceiveFd());

        Assert.True(pipe.AllWritersClosed());
        AssertConnectionStillWorks(pair);
    });

    [Fact]
    public Task ReceiveFdAsync_WhenTheMessageCarriesManyDescriptors_ClosesAllAndThrows() => Leak.AssertNoneAsync(async () =>
    {
        using var pair = SocketPair.Create();
        ValueTask<SafeFileHandle> pending = pair.Right.ReceiveFdAsync();
        using Pipe pipe = SendCopiesAndDropOriginal(pair.Left, 10, new byte[4], receiveIsPending: true);

        await Assert.ThrowsAnyAsync<IOException>(() => pending.AsTask().WaitAsync(Guard));

        Assert.True(pipe.AllWritersClosed());
        AssertConnectionStillWorks(pair);
    });

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void ReceiveFd_WhenTheMessageCarriesNoDescriptor_Throws(SocketType type) => Leak.AssertNone(() =>
    {
        using var pair = SocketPair.Create(type);
        pair.Left.SendFds(new byte[4], []);

        Assert.ThrowsAny<IOException>(() => pair.Right.ReceiveFd());

        AssertConnectionStillWorks(pair);
    });

    [Fact]
    public Task ReceiveFdAsync_WhenTheMessageCarriesNoDescriptor_Throws() => Leak.AssertNoneAsync(async () =>
    {
        using var pair = SocketPair.Create();
        pair.Left.SendFds("abcd"u8, []);

        await Assert.ThrowsAnyAsync<IOException>(async () => await pair.Right.ReceiveFdAsync());

        AssertConnectionStillWorks(pair);
    });

    [Fact]
    public Task ReceiveSocket_WhenTheDescriptorIsNotASocket_ClosesItAndThrows() => Leak.AssertNoneAsync(async () =>
    {
        using var pair = SocketPair.Create();
        using Pipe pipe = SendCopiesAndDropOriginal(pair.Left, 1, new byte[4]);
        Assert.ThrowsAny<IOException>(() => pair.Right.ReceiveSocket());
        Assert.True(pipe.AllWritersClosed());

        using Pipe another = SendCopiesAndDropOriginal(pair.Left, 1, new byte[4]);
        await Assert.ThrowsAnyAsync<IOException>(async () => await pair.Right.ReceiveSocketAsync());
        Assert.True(another.AllWritersClosed());

        AssertConnectionStillWorks(pair);
    });

    [Fact]
    public Task ReceiveSocket_WhenTheMessageCarriesTwoDescriptorsOrNone_Throws() => Leak.AssertNoneAsync(async () =>
    {
        using var pair = SocketPair.Create();
        using Pipe pipe = SendCopiesAndDropOriginal(pair.Left, 2, new byte[4]);
        Assert.ThrowsAny<IOException>(() => pair.Right.ReceiveSocket());
        Assert.True(pipe.AllWritersClosed());

        pair.Left.SendFds(new byte[4], []);
        await Assert.ThrowsAnyAsync<IOException>(async () => await pair.Right.ReceiveSocketAsync());

        AssertConnectionStillWorks(pair);
    });

    /// <summary>
    /// An allocation failure while the exception is built must not leak the message's descriptors, so they are closed
    /// before it is built. Building the message rents a buffer from ArrayPool.Shared; the probe checks, at that moment,
    /// that every copy of the pipe's write end is already closed.
    /// </summary>
    [Theory]
    [InlineData(SocketType.Stream)] // more descriptors than slots
    [InlineData(SocketType.Dgram)] // a datagram longer than the buffer (MSG_TRUNC)
    public void ReceiveFds_WhenTheMessageIsRefused_ClosesItsDescriptorsBeforeBuildingTheException(SocketType type)
    {
        using var pair = SocketPair.Create(type);
        using Pipe pipe = SendCopiesAndDropOriginal(pair.Left, 3, new byte[type == SocketType.Dgram ? 100 : 16]);
        using var probe = new RentProbe();

        Exception? failure;
        probe.Arm(pipe.AllWritersClosed);
        try
        {
            failure = Record.Exception(() => pair.Right.ReceiveFds(new byte[16], new SafeFileHandle?[2]));
        }
        finally
        {
            probe.Disarm();
        }

        Assert.IsType<IOException>(failure);
        Assert.True(probe.Results.Count > 0, "precondition: building the exception's message rents a buffer");
        Assert.True(probe.Results[^1], "the descriptors were still open when the exception was built");
        Assert.True(pipe.AllWritersClosed());
    }

    // End of stream.
    // End of stream.

    [Theory]
    [InlineData(SocketType.Stream)]
    [InlineData(SocketType.Seqpacket)]
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
    [InlineData(SocketType.Seqpacket)]
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

    /// <summary>Sends <paramref name="count"/> copies of a fresh pipe's write end, then closes the original.</summary>
    /// <param name="receiveIsPending">A receive already waiting may take (and close) the copies at once, so they cannot be checked in flight.</param>
    private static Pipe SendCopiesAndDropOriginal(Socket socket, int count, ReadOnlySpan<byte> data, bool receiveIsPending = false)
    {
        var pipe = Pipe.Create();
        SafeHandle[] fds = [.. Enumerable.Repeat<SafeHandle>(pipe.Write, count)];
        socket.SendFds(data, fds);
        pipe.Write.Dispose();
        if (!receiveIsPending)
        {
            Assert.False(pipe.AllWritersClosed());
        }

        return pipe;
    }

    private static void AssertConnectionStillWorks(SocketPair pair)
    {
        using SafeFileHandle file = Descriptors.TempFile("after");
        pair.Left.SendFd(file);
        using SafeFileHandle received = pair.Right.ReceiveFd();
        Assert.Equal("after", Descriptors.ReadAll(received));
        Assert.False(Pipe.IsReadable(pair.Right));
    }
}
