using System.Net.Sockets;
using System.Text;

namespace AsyncSendFd.Hosting.Tests.Support;

/// <summary>
/// A notification socket standing in for systemd's: <c>$NOTIFY_SOCKET</c> names it while it lives (this process's
/// environment, so in-process generations talk to it), and each datagram is one sd_notify message.
/// </summary>
internal sealed class FakeSystemd : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);

    public FakeSystemd(string directory)
    {
        string path = Path.Combine(directory, "notify.sock");
        _socket.Bind(new UnixDomainSocketEndPoint(path));
        Environment.SetEnvironmentVariable("NOTIFY_SOCKET", path);
    }

    /// <summary>The next message (up to the guard).</summary>
    public async Task<string> NextAsync()
    {
        using var guard = new CancellationTokenSource(Timeouts.Guard);
        var buffer = new byte[4096];
        int length = await _socket.ReceiveAsync(buffer, SocketFlags.None, guard.Token);
        return Encoding.UTF8.GetString(buffer, 0, length);
    }

    public void Dispose()
    {
        Environment.SetEnvironmentVariable("NOTIFY_SOCKET", null);
        _socket.Dispose();
    }
}
