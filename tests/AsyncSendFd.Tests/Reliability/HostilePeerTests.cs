using System.Net.Sockets;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;
using Xunit.Abstractions;

namespace AsyncSendFd.Tests.Reliability;

/// <summary>
/// A python3 peer sends raw sendmsg with ancillary data no well-behaved .NET sender produces. After every case the
/// receiver's descriptor count is back to its baseline, failures are exceptions a caller can act on, and the
/// connection still delivers a final good message wherever the kernel allows it.
/// </summary>
[Collection(DescriptorsCollection.Name)]
public class HostilePeerTests(ITestOutputHelper output)
{
    private const int SolSocket = 1;
    private const int SoPassCred = 16;
    private const int SoPassPidFd = 76;

    [Fact]
    public void PeerWithSoPassCredOnReceiver_CredentialsArriveBeforeRights_ReceiveFdsStillReturnsEveryDescriptor()
    {
        using var peer = RawSendmsgPeer.Start("""
            def body(s):
                for i in range(20):
                    s.sendmsg([b'M%03d' % i], [rights([marked('m%d.%d' % (i, k)) for k in range(1 + i % 3)])])
                s.sendmsg([b'B'], [rights([marked('big')] * 252)])
                s.sendmsg([b'\0\0\0\0'], [rights([marked('single')])])
                good(s)
            """);
        EnableOption(peer.Socket, SoPassCred);
        var baseline = DescriptorSnapshot.Take();
        peer.Go();

        var data = new byte[4];
        var slots = new SafeFileHandle?[4];
        for (int i = 0; i < 20; i++)
        {
            FdReceiveResult result = peer.Socket.ReceiveFds(data, slots);
            Assert.Equal(new FdReceiveResult(4, 1 + (i % 3)), result);
            Assert.Equal($"M{i:000}", System.Text.Encoding.ASCII.GetString(data));
            for (int k = 0; k < result.FdCount; k++)
            {
                Assert.Equal($"m{i}.{k}", TestNative.ReadText(slots[k]!));
                slots[k]!.Dispose();
            }
        }

        var many = new SafeFileHandle?[SocketFdExtensions.MaxFdsPerMessage];
        Assert.Equal(new FdReceiveResult(1, 252), peer.Socket.ReceiveFds(data.AsSpan(0, 1), many));
        string target = Assert.Single(many.Select(h => Descriptors.Target(h!)).Distinct());
        Assert.StartsWith("pipe:", target, StringComparison.Ordinal);
        DisposeAll(many);

        using (SafeFileHandle single = peer.Socket.ReceiveFd())
        {
            Assert.Equal("single", TestNative.ReadText(single));
        }

        AssertGoodMessageThenEnd(peer);
        DescriptorSnapshot.AssertBackTo(baseline);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PeerSendsExplicitScmCredentialsWithRights_DescriptorIsDeliveredAndCredentialsSkipped(bool passCred)
    {
        using var peer = RawSendmsgPeer.Start("""
            def body(s):
                s.sendmsg([b'cred'], [creds(), rights([marked('after-creds')])])
                s.sendmsg([b'cred'], [rights([marked('before-creds')]), creds()])
                s.sendmsg([b'only'], [creds()])
                good(s)
            """);
        if (passCred)
        {
            EnableOption(peer.Socket, SoPassCred);
        }

        var baseline = DescriptorSnapshot.Take();
        peer.Go();

        using (SafeFileHandle first = peer.Socket.ReceiveFd())
        {
            Assert.Equal("after-creds", TestNative.ReadText(first));
        }

        using (SafeFileHandle second = peer.Socket.ReceiveFd())
        {
            Assert.Equal("before-creds", TestNative.ReadText(second));
        }

        // Credentials alone are not a descriptor: an actionable IOException, and the stream stays usable.
        IOException none = Assert.Throws<IOException>(() => peer.Socket.ReceiveFd());
        output.WriteLine($"credentials-only message: {none.GetType().Name}: {none.Message}");

        AssertGoodMessageThenEnd(peer);
        DescriptorSnapshot.AssertBackTo(baseline);
    }

    [Fact]
    public void PeerSendsTwoRightsControlMessagesInOneSendmsg_KernelMergesThem_AllDeliveredInOrderNoneLeaked()
    {
        using var peer = RawSendmsgPeer.Start("""
            def body(s):
                s.sendmsg([b'two'], [rights([marked('a'), marked('b')]), rights([marked('c')])])
                s.sendmsg([b'mix'], [rights([marked('d')]), creds(), rights([marked('e'), marked('f')])])
                s.sendmsg([b'cap'], [rights([marked('x')] * 200), rights([marked('y')] * 53)])
                good(s)
            """);
        EnableOption(peer.Socket, SoPassCred);
        var baseline = DescriptorSnapshot.Take();
        peer.Go();

        var data = new byte[3];
        var slots = new SafeFileHandle?[SocketFdExtensions.MaxFdsPerMessage + 1];
        Assert.Equal(new FdReceiveResult(3, 3), peer.Socket.ReceiveFds(data, slots));
        Assert.Equal(["a", "b", "c"], slots.Take(3).Select(h => TestNative.ReadText(h!)));
        DisposeAll(slots);

        Assert.Equal(new FdReceiveResult(3, 3), peer.Socket.ReceiveFds(data, slots));
        Assert.Equal(["d", "e", "f"], slots.Take(3).Select(h => TestNative.ReadText(h!)));
        DisposeAll(slots);

        // 200 + 53 = 253 merged descriptors: more than MaxFdsPerMessage, still within the control buffer.
        Assert.Equal(new FdReceiveResult(3, 253), peer.Socket.ReceiveFds(data, slots));
        DisposeAll(slots);

        AssertGoodMessageThenEnd(peer);
        DescriptorSnapshot.AssertBackTo(baseline);
    }

    [Fact]
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

        AssertGoodMessageThenEnd(peer);
        DescriptorSnapshot.AssertBackTo(baseline);
    }

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
        DisposeAll(slots);

        FdReceiveResult second = peer.Socket.ReceiveFds(data, slots);
        Assert.Equal(new FdReceiveResult(8, 1), second);
        Assert.Equal("tailnext", System.Text.Encoding.ASCII.GetString(data, 0, 8));
        Assert.Equal("e2", TestNative.ReadText(slots[0]!));
        DisposeAll(slots);

        // Four stray bytes in front of a single-descriptor frame: ReceiveFd reads exactly them and reports
        // "no descriptor"; the descriptor stays with its own frame, which the next ReceiveFd returns.
        IOException stray = Assert.Throws<IOException>(() => peer.Socket.ReceiveFd());
        output.WriteLine($"stray bytes before a frame: {stray.Message}");
        DescriptorSnapshot.AssertBackTo(baseline);

        AssertGoodMessageThenEnd(peer);
        DescriptorSnapshot.AssertBackTo(baseline);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public void ReceiverAtItsDescriptorLimit_KernelTruncates_ThrowsIOExceptionAndClosesWhatWasInstalled(int free)
    {
        using var peer = RawSendmsgPeer.Start("""
            def body(s):
                s.sendmsg([b'F'], [rights([marked('f')] * 200)])
                good(s)
            """);
        peer.Go();
        peer.WaitForExit(); // both messages queued before the limit goes down
        var baseline = DescriptorSnapshot.Take();
        var slots = new SafeFileHandle?[SocketFdExtensions.MaxFdsPerMessage];

        Exception? failure;
        int holes;
        using (NoFileLimit limit = NoFileLimit.JustAboveHighestOpen(free))
        {
            holes = limit.FreeNumbers - free;
            failure = Record.Exception(() => peer.Socket.ReceiveFds(new byte[1], slots));
        }

        output.WriteLine($"free numbers below the limit: {holes + free}; {failure?.GetType().Name}: {failure?.Message}");
        Assert.True(holes + free < 200, $"precondition: fewer free numbers ({holes + free}) than descriptors sent");
        Assert.IsAssignableFrom<IOException>(failure);
        Assert.All(slots, Assert.Null);
        DescriptorSnapshot.AssertBackTo(baseline);

        AssertGoodMessageThenEnd(peer);
        DescriptorSnapshot.AssertBackTo(baseline);
    }

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

            DisposeAll(slots);
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
        AssertGoodMessageThenEnd(peer);
        DescriptorSnapshot.AssertBackTo(baseline);
    }

    [Fact]
    public void ReceiverWithSoPassPidFd_KernelInstallsAPidfdPerMessage_TheLibraryClosesIt()
    {
        using var peer = RawSendmsgPeer.Start("""
            def body(s):
                for i in range(5):
                    s.sendmsg([b'\0\0\0\0'], [rights([marked('p%d' % i)])])
                good(s)
            """);
        try
        {
            EnableOption(peer.Socket, SoPassPidFd);
        }
        catch (SocketException e)
        {
            Assert.Fail($"SO_PASSPIDFD needs Linux 6.5+: {e.Message}");
        }

        var baseline = DescriptorSnapshot.Take();
        peer.Go();
        for (int i = 0; i < 5; i++)
        {
            using SafeFileHandle handle = peer.Socket.ReceiveFd();
            Assert.Equal($"p{i}", TestNative.ReadText(handle));
        }

        AssertGoodMessageThenEnd(peer);
        DescriptorSnapshot.AssertBackTo(baseline);
    }

    private static void EnableOption(Socket socket, int option) =>
        socket.SetRawSocketOption(SolSocket, option, BitConverter.GetBytes(1));

    private static void AssertGoodMessageThenEnd(RawSendmsgPeer peer)
    {
        using (SafeFileHandle good = peer.Socket.ReceiveFd())
        {
            Assert.Equal("good", TestNative.ReadText(good));
        }

        var slots = new SafeFileHandle?[4];
        Assert.Equal(new FdReceiveResult(0, 0), peer.Socket.ReceiveFds(new byte[16], slots));
        peer.WaitForExit();
    }

    private static void DisposeAll(SafeFileHandle?[] slots)
    {
        for (int i = 0; i < slots.Length; i++)
        {
            slots[i]?.Dispose();
            slots[i] = null;
        }
    }
}
