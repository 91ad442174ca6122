using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Text;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;
using Xunit.Abstractions;
using static AsyncSendFd.Tests.Support.Timeouts;
using Linux = AsyncSendFd.Native.Interop.Linux;

namespace AsyncSendFd.Tests.Features;

/// <summary>Peer credentials (SO_PEERCRED, SO_PEERPIDFD) and credentials riding on messages, which receives skip.</summary>
public class CredentialsTests
{
    [Fact]
    public void GetPeerCredentials_OnSocketPair_ReportsThisProcess()
    {
        using var pair = SocketPair.Create();

        UnixPeerCredentials credentials = pair.Left.GetPeerCredentials();

        Assert.Equal(Environment.ProcessId, credentials.ProcessId);
        Assert.Equal(Native.Interop.Unix.LibC.getuid(), credentials.UserId);
        Assert.Equal(Native.Interop.Unix.LibC.getgid(), credentials.GroupId);
    }

    [Fact]
    public void GetPeerCredentials_OnUnconnectedSocket_ThrowsSocketException()
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);

        var e = Assert.Throws<SocketException>(() => socket.GetPeerCredentials());
        Assert.Equal(SocketError.NotConnected, e.SocketErrorCode);
    }

    [Fact]
    public void GetPeerCredentials_OnTcpSocket_ThrowsNotSupported()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

        Assert.Throws<NotSupportedException>(() => socket.GetPeerCredentials());
    }

    [SupportedOSPlatform("linux")] // SO_PEERPIDFD
    [LinuxFact]
    public void GetPeerPidFd_OnSocketPair_RefersToThisProcess()
    {
        using var pair = SocketPair.Create();

        using SafeFileHandle pidfd = pair.Left.GetPeerPidFd();

        Assert.Equal("anon_inode:[pidfd]", Descriptors.Target(pidfd));
        Assert.True(Descriptors.IsCloseOnExec(pidfd));
        string pidLine = File.ReadLines($"/proc/self/fdinfo/{pidfd.DangerousGetHandle()}").First(l => l.StartsWith("Pid:", StringComparison.Ordinal));
        Assert.Equal(Environment.ProcessId, int.Parse(pidLine["Pid:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture));
    }

    [SupportedOSPlatform("linux")] // SO_PASSCRED
    [LinuxFact]
    public void ReceiveFds_SkipsCredentialsControlMessages_WhenSoPassCredIsOn()
    {
        using var pair = SocketPair.Create();
        pair.Right.SetRawSocketOption(Linux.LibC.SOL_SOCKET, Linux.LibC.SO_PASSCRED, BitConverter.GetBytes(1));
        using var pipe = Pipe.Create();
        SafeHandle[] fds = [.. Enumerable.Repeat<SafeHandle>(pipe.Write, SocketFdExtensions.MaxFdsPerMessage)];

        pair.Left.SendFds("creds"u8, fds);
        var slots = new SafeFileHandle?[SocketFdExtensions.MaxFdsPerMessage];
        FdReceiveResult result = pair.Right.ReceiveFds(new byte[16], slots);
        try
        {
            Assert.Equal(new FdReceiveResult(5, SocketFdExtensions.MaxFdsPerMessage), result);
        }
        finally
        {
            Descriptors.DisposeAll(slots);
        }

        pair.Left.SendFd(pipe.Write);
        using SafeFileHandle one = pair.Right.ReceiveFd();
        Assert.Equal(Descriptors.Target(pipe.Write), Descriptors.Target(one));
    }
}

/// <summary>
/// A raw peer adding credentials to its messages (SCM_CREDENTIALS, explicit or from SO_PASSCRED) or a receiver with
/// SO_PASSPIDFD: every descriptor is delivered, the credentials are skipped, and the kernel's pidfd is closed.
/// </summary>
[Collection(DescriptorsCollection.Name)]
[SupportedOSPlatform("linux")] // SO_PASSCRED, SCM_CREDENTIALS, SO_PASSPIDFD
public class CredentialsFromARawPeerTests(ITestOutputHelper output)
{
    [Trait("Category", "Python")]
    [LinuxFact]
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
        peer.EnableOption(RawSendmsgPeer.SoPassCred);
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
        Descriptors.DisposeAll(many);

        using (SafeFileHandle single = peer.Socket.ReceiveFd())
        {
            Assert.Equal("single", TestNative.ReadText(single));
        }

        peer.AssertGoodMessageThenEnd();
        DescriptorSnapshot.AssertBackTo(baseline);
    }

    [Trait("Category", "Python")]
    [LinuxTheory]
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
            peer.EnableOption(RawSendmsgPeer.SoPassCred);
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

        peer.AssertGoodMessageThenEnd();
        DescriptorSnapshot.AssertBackTo(baseline);
    }

    [Trait("Category", "Python")]
    [LinuxFact]
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
            peer.EnableOption(RawSendmsgPeer.SoPassPidFd);
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

        peer.AssertGoodMessageThenEnd();
        DescriptorSnapshot.AssertBackTo(baseline);
    }
}
