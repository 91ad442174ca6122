using System.Net.Sockets;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Tests;

public class PeerCredentialsTests
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

    [Fact]
    public void GetPeerPidFd_OnSocketPair_RefersToThisProcess()
    {
        using var pair = SocketPair.Create();

        using SafeFileHandle pidfd = pair.Left.GetPeerPidFd();

        Assert.Equal("anon_inode:[pidfd]", Descriptors.Target(pidfd));
        Assert.True(Descriptors.IsCloseOnExec(pidfd));
        string pidLine = File.ReadLines($"/proc/self/fdinfo/{pidfd.DangerousGetHandle()}").First(l => l.StartsWith("Pid:", StringComparison.Ordinal));
        Assert.Equal(Environment.ProcessId, int.Parse(pidLine["Pid:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture));
    }
}
