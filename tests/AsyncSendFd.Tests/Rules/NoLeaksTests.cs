using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;
using Xunit.Abstractions;
using static AsyncSendFd.Tests.Support.Timeouts;

namespace AsyncSendFd.Tests.Rules;

/// <summary>
/// README rule "No descriptor is ever leaked": every message the library refuses (more descriptors than slots,
/// MSG_TRUNC, MSG_CTRUNC, a ReceiveFd/ReceiveSocket message with the wrong count) has every descriptor closed before
/// the IOException is even built, and the connection goes on. Most scenarios send copies of a pipe's write end and
/// drop the original: the read end hangs up exactly when no copy survives. The process-wide descriptor count is
/// checked as well, so these run in the non-parallel collection.
/// </summary>
[Collection(DescriptorsCollection.Name)]
public class NoLeaksTests(ITestOutputHelper output)
{
    // More descriptors than slots.

    [Theory]
    [InlineData(SocketType.Stream, Api.Sync)]
    [InlineData(SocketType.Stream, Api.Async)]
    [InlineData(SocketType.Dgram, Api.Sync)]
    [InlineData(SocketType.Dgram, Api.Async)]
    [LinuxInlineData(SocketType.Seqpacket, Api.Sync)]
    [LinuxInlineData(SocketType.Seqpacket, Api.Async)]
    public Task ReceiveFds_WhenPeerSendsMoreThanSlots_ClosesAllAndThrows(SocketType type, Api api) => Leak.AssertNoneAsync(async () =>
    {
        using var pair = SocketPair.Create(type);
        using Pipe pipe = SendCopiesAndDropOriginal(pair.Left, 5, "five"u8);

        var slots = new SafeFileHandle?[2];
        await Assert.ThrowsAnyAsync<IOException>(() => pair.Right.ReceiveFds(api, new byte[16], slots));

        Assert.All(slots, Assert.Null);
        Assert.True(pipe.AllWritersClosed());
        AssertConnectionStillWorks(pair);
    });

    [Theory]
    [InlineData(SocketType.Stream)]
    [InlineData(SocketType.Dgram)]
    [LinuxInlineData(SocketType.Seqpacket)]
    public Task ReceiveFdsAsync_WaitingWhenPeerSendsMoreThanSlots_ClosesAllAndThrows(SocketType type) => Leak.AssertNoneAsync(async () =>
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

    [SupportedOSPlatform("linux")] // Linux's SCM_MAX_FD (253)
    [Trait("Category", "Python")]
    [LinuxFact]
    public async Task Peer253DescriptorsIntoFourSlots_ThrowsIOException_ClosesAll_ConnectionStillWorks()
    {
        using var peer = RawSendmsgPeer.Start("""
            def body(s):
                s.sendmsg([b'D'], [rights([marked('x')] * 253)])
                s.sendmsg([b'D'], [rights([marked('x')] * 253)])
                s.sendmsg([b'\0\0\0\0'], [rights([marked('x')] * 253)])
                good(s)
            """);
        var baseline = DescriptorSnapshot.Take();
        peer.Go();

        var slots = new SafeFileHandle?[4];
        IOException sync = Assert.Throws<IOException>(() => peer.Socket.ReceiveFds(new byte[1], slots));
        Assert.All(slots, Assert.Null);
        DescriptorSnapshot.AssertBackTo(baseline);

        IOException async = await Assert.ThrowsAsync<IOException>(async () => await peer.Socket.ReceiveFdsAsync(new byte[1], slots));
        Assert.All(slots, Assert.Null);
        DescriptorSnapshot.AssertBackTo(baseline);

        IOException single = Assert.Throws<IOException>(() => peer.Socket.ReceiveFd());
        DescriptorSnapshot.AssertBackTo(baseline);
        output.WriteLine($"{sync.Message}\n{async.Message}\n{single.Message}");

        peer.AssertGoodMessageThenEnd();
        DescriptorSnapshot.AssertBackTo(baseline);
    }

    // Truncated data (MSG_TRUNC) and truncated control data (MSG_CTRUNC).

    [Theory]
    [InlineData(SocketType.Dgram, Api.Sync)]
    [InlineData(SocketType.Dgram, Api.Async)]
    [LinuxInlineData(SocketType.Seqpacket, Api.Sync)]
    [LinuxInlineData(SocketType.Seqpacket, Api.Async)]
    public Task ReceiveFds_WhenAMessageIsLongerThanTheBuffer_ClosesItsDescriptorsAndThrowsMsgTrunc(SocketType type, Api api) => Leak.AssertNoneAsync(async () =>
    {
        using var pair = SocketPair.Create(type);
        using Pipe pipe = SendCopiesAndDropOriginal(pair.Left, 3, "0123456789"u8);

        var slots = new SafeFileHandle?[8];
        IOException e = await Assert.ThrowsAnyAsync<IOException>(() => pair.Right.ReceiveFds(api, new byte[9], slots)); // one byte short
        Assert.Contains("MSG_TRUNC", e.Message);

        Assert.All(slots, Assert.Null);
        Assert.True(pipe.AllWritersClosed());
        AssertConnectionStillWorks(pair);
    });

    [SupportedOSPlatform("linux")] // the Linux kernel's MSG_CTRUNC at RLIMIT_NOFILE
    [LinuxTheory]
    [InlineData(0)]
    [InlineData(3)]
    public void ReceiverOutOfDescriptors_KernelSetsMsgCtrunc_ThrowsIOExceptionClosingWhatWasInstalled(int free)
    {
        using var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile();
        SafeHandle[] many = Enumerable.Repeat<SafeHandle>(file, SocketFdExtensions.MaxFdsPerMessage).ToArray();
        pair.Left.SendFds("x"u8, many);
        pair.Left.SendFd(file);
        var baseline = DescriptorSnapshot.Take();
        var slots = new SafeFileHandle?[SocketFdExtensions.MaxFdsPerMessage];

        Exception? failure;
        int freeNumbers;
        using (NoFileLimit limit = NoFileLimit.JustAboveHighestOpen(free))
        {
            freeNumbers = limit.FreeNumbers;
            failure = Record.Exception(() => pair.Right.ReceiveFds(new byte[1], slots));
        }

        output.WriteLine($"{freeNumbers} numbers free; {failure?.GetType().Name}: {failure?.Message}");
        Assert.True(freeNumbers < SocketFdExtensions.MaxFdsPerMessage, "precondition: the limit must bite");
        Assert.IsAssignableFrom<IOException>(failure);
        Assert.All(slots, Assert.Null);
        DescriptorSnapshot.AssertBackTo(baseline);

        using (SafeFileHandle next = pair.Right.ReceiveFd())
        {
            Assert.Equal(Descriptors.Target(file), Descriptors.Target(next));
        }

        DescriptorSnapshot.AssertBackTo(baseline);
    }

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

    // ReceiveFd and ReceiveSocket: one descriptor or an IOException, after closing what came.

    [Theory]
    [InlineData(SocketType.Stream, Api.Sync)]
    [InlineData(SocketType.Stream, Api.Async)]
    [InlineData(SocketType.Dgram, Api.Sync)]
    [InlineData(SocketType.Dgram, Api.Async)]
    [LinuxInlineData(SocketType.Seqpacket, Api.Sync)]
    [LinuxInlineData(SocketType.Seqpacket, Api.Async)]
    public Task ReceiveFd_WhenTheMessageCarriesTwoDescriptors_ClosesBothAndThrows(SocketType type, Api api) => Leak.AssertNoneAsync(async () =>
    {
        using var pair = SocketPair.Create(type);
        using Pipe pipe = SendCopiesAndDropOriginal(pair.Left, 2, new byte[4]);

        await Assert.ThrowsAnyAsync<IOException>(() => pair.Right.ReceiveFd(api));

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
    [InlineData(SocketType.Stream)]
    [InlineData(SocketType.Dgram)]
    [LinuxInlineData(SocketType.Seqpacket)]
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

    // Control data a .NET sender never produces.

    [SupportedOSPlatform("linux")] // SCM_CREDENTIALS, SO_PASSCRED, the Linux kernel merging rights
    [Trait("Category", "Python")]
    [LinuxFact]
    public void PeerSendsTwoRightsControlMessagesInOneSendmsg_KernelMergesThem_AllDeliveredInOrderNoneLeaked()
    {
        using var peer = RawSendmsgPeer.Start("""
            def body(s):
                s.sendmsg([b'two'], [rights([marked('a'), marked('b')]), rights([marked('c')])])
                s.sendmsg([b'mix'], [rights([marked('d')]), creds(), rights([marked('e'), marked('f')])])
                s.sendmsg([b'cap'], [rights([marked('x')] * 200), rights([marked('y')] * 53)])
                good(s)
            """);
        peer.EnableOption(RawSendmsgPeer.SoPassCred);
        var baseline = DescriptorSnapshot.Take();
        peer.Go();

        var data = new byte[3];
        var slots = new SafeFileHandle?[SocketFdExtensions.MaxFdsPerMessage + 1];
        Assert.Equal(new FdReceiveResult(3, 3), peer.Socket.ReceiveFds(data, slots));
        Assert.Equal(["a", "b", "c"], slots.Take(3).Select(h => TestNative.ReadText(h!)));
        Descriptors.DisposeAll(slots);

        Assert.Equal(new FdReceiveResult(3, 3), peer.Socket.ReceiveFds(data, slots));
        Assert.Equal(["d", "e", "f"], slots.Take(3).Select(h => TestNative.ReadText(h!)));
        Descriptors.DisposeAll(slots);

        // 200 + 53 = 253 merged descriptors: more than MaxFdsPerMessage, still within the control buffer.
        Assert.Equal(new FdReceiveResult(3, 253), peer.Socket.ReceiveFds(data, slots));
        Descriptors.DisposeAll(slots);

        peer.AssertGoodMessageThenEnd();
        DescriptorSnapshot.AssertBackTo(baseline);
    }

    [Trait("Category", "Python")]
    [Fact]
    public async Task PeerFloodsDescriptorsWhileReceiverIsSlow_EveryDescriptorIsAccountedFor()
    {
        const int Messages = 3000;
        using var peer = RawSendmsgPeer.Start("""
            def body(s):
                fd = os.open('/dev/null', os.O_RDONLY)
                for i in range(3000):
                    s.sendmsg([b'\0\0\0\0'], [rights([fd])])
                good(s)
            """);
        var baseline = DescriptorSnapshot.Take();
        peer.Go();

        int received = 0;
        int peakOpen = 0;
        for (int i = 0; i < Messages; i++)
        {
            using SafeFileHandle handle = await peer.Socket.ReceiveFdAsync();
            Assert.Equal("/dev/null", Descriptors.Target(handle));
            received++;
            if (i % 100 == 0)
            {
                peakOpen = Math.Max(peakOpen, Descriptors.OpenCount());
                await Task.Delay(5); // slow consumer: the peer's socket buffer fills and it blocks
            }
        }

        output.WriteLine($"received {received}, peak open {peakOpen} (baseline {baseline.Count})");
        Assert.Equal(Messages, received);
        // One received handle plus the listing's own descriptor, and a little slack for runtime-transient ones:
        // a library that held on to received descriptors would be thousands above.
        Assert.True(peakOpen <= baseline.Count + 16, $"descriptors piled up: peak {peakOpen}, baseline {baseline.Count}");
        peer.AssertGoodMessageThenEnd();
        DescriptorSnapshot.AssertBackTo(baseline);
    }

    // Soak and load: the count stays where it started over many passes.

    private const int Passes = 20_000;

    [Trait("Category", "Stress")]
    [Fact]
    public void SendFdThenReceiveFd_20000Times_KeepsTheDescriptorCountStable()
    {
        using var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile("soak");
        string target = Descriptors.Target(file);
        pair.Left.SendFd(file);
        pair.Right.ReceiveFd().Dispose();
        int before = Leak.StableCount();

        for (int i = 0; i < Passes; i++)
        {
            pair.Left.SendFd(file);
            using SafeFileHandle received = pair.Right.ReceiveFd();
            if (i % 5000 == 0)
            {
                Assert.Equal(target, Descriptors.Target(received));
                Assert.Equal(before + 1, Descriptors.CountSettledAt(before + 1));
            }
        }

        Assert.Equal(before, Descriptors.CountSettledAt(before));
    }

    [Trait("Category", "Stress")]
    [Fact]
    public async Task SendFdAsyncThenReceiveFdAsync_20000Times_KeepsTheDescriptorCountStable()
    {
        using var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile("soak async");
        await pair.Left.SendFdAsync(file);
        (await pair.Right.ReceiveFdAsync()).Dispose();
        int before = Leak.StableCount();

        for (int i = 0; i < Passes; i++)
        {
            ValueTask<SafeFileHandle> receive = pair.Right.ReceiveFdAsync();
            await pair.Left.SendFdAsync(file);
            using SafeFileHandle received = await receive;
        }

        Assert.Equal(before, Descriptors.CountSettledAt(before));
    }

    [SupportedOSPlatform("linux")] // seqpacket
    [Trait("Category", "Stress")]
    [LinuxFact]
    public async Task ConcurrentAsyncSenderAndReceiver_20000Passes_KeepTheDescriptorCountStable()
    {
        using var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile();
        await pair.Left.SendFdAsync(file);
        (await pair.Right.ReceiveFdAsync()).Dispose();
        int before = Leak.StableCount();

        Task sender = Task.Run(async () =>
        {
            for (int i = 0; i < Passes; i++)
            {
                await pair.Left.SendFdAsync(file);
            }
        });
        for (int i = 0; i < Passes; i++)
        {
            (await pair.Right.ReceiveFdAsync()).Dispose();
        }

        await sender.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(before, Descriptors.CountSettledAt(before));
    }

    [Trait("Category", "Stress")]
    [Fact]
    public void MaxDescriptorMessages_200Times_KeepTheDescriptorCountStable()
    {
        using var pair = SocketPair.Create(SocketType.Seqpacket);
        using var pipe = Pipe.Create();
        SafeHandle[] fds = [.. Enumerable.Repeat<SafeHandle>(pipe.Write, SocketFdExtensions.MaxFdsPerMessage)];
        var slots = new SafeFileHandle?[SocketFdExtensions.MaxFdsPerMessage];
        int before = Leak.StableCount();

        for (int i = 0; i < 200; i++)
        {
            pair.Left.SendFds("m"u8, fds);
            Assert.Equal(new FdReceiveResult(1, SocketFdExtensions.MaxFdsPerMessage), pair.Right.ReceiveFds(new byte[1], slots));
            Descriptors.DisposeAll(slots);
        }

        Assert.Equal(before, Descriptors.CountSettledAt(before));
    }

    [Trait("Category", "Stress")]
    [Fact]
    public void RejectedMessages_2000Times_KeepTheDescriptorCountStable()
    {
        using var pair = SocketPair.Create();
        using var pipe = Pipe.Create();
        SafeHandle[] fds = [.. Enumerable.Repeat<SafeHandle>(pipe.Write, 50)];
        var slots = new SafeFileHandle?[10];
        int before = Leak.StableCount();

        for (int i = 0; i < 2000; i++)
        {
            pair.Left.SendFds("too many"u8, fds);
            Assert.ThrowsAny<IOException>(() => pair.Right.ReceiveFds(new byte[16], slots));
        }

        Assert.Equal(before, Descriptors.CountSettledAt(before));
    }

    [Trait("Category", "Stress")]
    [Fact]
    public async Task SocketTransfers_2000Times_KeepTheDescriptorCountStable()
    {
        using var pair = SocketPair.Create();
        using var payload = SocketPair.Create();
        pair.Left.SendSocket(payload.Left);
        pair.Right.ReceiveSocket().Dispose();
        int before = Leak.StableCount();

        for (int i = 0; i < 1000; i++)
        {
            pair.Left.SendSocket(payload.Left);
            pair.Right.ReceiveSocket().Dispose();
            await pair.Left.SendSocketAsync(payload.Left);
            (await pair.Right.ReceiveSocketAsync()).Dispose();
        }

        Assert.Equal(before, Descriptors.CountSettledAt(before));
    }

    [Trait("Category", "Stress")]
    [Fact]
    public async Task AThousandSocketPairsPassingDescriptorsConcurrently_AllDelivered_CountBackToBaseline()
    {
        const int Pairs = 1000;
        const int PerPair = 5;
        (ulong soft, ulong hard) = TestNative.GetNoFileLimit();
        output.WriteLine($"RLIMIT_NOFILE soft {soft}, hard {hard}");

        // 2 descriptors per pair, up to PerPair received per pair held at once, plus headroom.
        using NoFileLimit raised = NoFileLimit.AtLeast((ulong)((Pairs * (2 + PerPair)) + 1024));
        Assert.True(TestNative.GetNoFileLimit().Soft >= (ulong)(Pairs * (2 + PerPair)), "RLIMIT_NOFILE hard limit too low for this test");

        using SafeFileHandle file = Descriptors.TempFile("load");
        string target = Descriptors.Target(file);
        var baseline = DescriptorSnapshot.Take();
        var pairs = Enumerable.Range(0, Pairs).Select(_ => SocketPair.Create()).ToArray();
        var started = DateTime.UtcNow;
        int delivered = 0;
        try
        {
            Task[] work = pairs.Select(async (pair, index) =>
            {
                Task send = Task.Run(async () =>
                {
                    for (int i = 0; i < PerPair; i++)
                    {
                        await pair.Left.SendFdsAsync(new byte[] { (byte)i }, new SafeHandle[] { file });
                    }
                });
                var data = new byte[1];
                var slots = new SafeFileHandle?[1];
                for (int i = 0; i < PerPair; i++)
                {
                    FdReceiveResult result = await pair.Right.ReceiveFdsAsync(data, slots);
                    Assert.Equal(new FdReceiveResult(1, 1), result);
                    Assert.Equal((byte)i, data[0]);
                    Assert.Equal(target, Descriptors.Target(slots[0]!));
                    slots[0]!.Dispose();
                    Interlocked.Increment(ref delivered);
                }

                await send;
            }).ToArray();

            Task all = Task.WhenAll(work);
            Assert.True(await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(60))) == all, $"timed out with {delivered} delivered");
            await all;
        }
        finally
        {
            foreach (SocketPair pair in pairs)
            {
                pair.Dispose();
            }
        }

        output.WriteLine($"{delivered} descriptors over {Pairs} pairs in {(DateTime.UtcNow - started).TotalMilliseconds:F0} ms");
        Assert.Equal(Pairs * PerPair, delivered);
        DescriptorSnapshot.AssertBackTo(baseline);
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
