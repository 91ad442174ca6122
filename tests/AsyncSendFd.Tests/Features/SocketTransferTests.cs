using System.Net.Sockets;
using System.Text;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;
using static AsyncSendFd.Tests.Support.Timeouts;

namespace AsyncSendFd.Tests.Features;

/// <summary>SendSocket/ReceiveSocket hand over a working socket; the connection ends only when every copy is closed.</summary>
public class SocketTransferTests
{
    [Theory]
    [InlineData(SocketType.Stream)]
    [LinuxInlineData(SocketType.Seqpacket)]
    public void ReceiveSocket_ReturnsAWorkingSocket_AndThePeerSeesEofOnlyAfterBothCopiesClose(SocketType type)
    {
        using var transport = SocketPair.Create();
        var payload = SocketPair.Create(type);
        using Socket far = payload.Right;

        transport.Left.SendSocket(payload.Left);
        using Socket received = transport.Right.ReceiveSocket();

        AssertWorks(received, far);
        Assert.Equal(AddressFamily.Unix, received.AddressFamily);
        Assert.Equal(type, received.SocketType);

        payload.Left.Dispose();
        AssertWorks(received, far);
        Assert.False(Pipe.IsReadable(far)); // the received copy keeps the connection open

        received.Dispose();
        Assert.Equal(0, far.Receive(new byte[16]));
    }

    [Fact]
    public async Task ReceiveSocketAsync_ReturnsAWorkingSocket_AndThePeerSeesEofOnlyAfterBothCopiesClose()
    {
        using var transport = SocketPair.Create();
        var payload = SocketPair.Create();
        using Socket far = payload.Right;

        Task<Socket> receive = transport.Right.ReceiveSocketAsync().AsTask();
        await transport.Left.SendSocketAsync(payload.Left);
        using Socket received = await receive.WaitAsync(Guard);

        Assert.Equal(4, await received.SendAsync("ping"u8.ToArray()));
        var buffer = new byte[16];
        Assert.Equal(4, await far.ReceiveAsync(buffer).WaitAsync(Guard));
        Assert.Equal("ping", Encoding.ASCII.GetString(buffer, 0, 4));
        Assert.Equal(4, await far.SendAsync("pong"u8.ToArray()));
        Assert.Equal(4, await received.ReceiveAsync(buffer).WaitAsync(Guard));
        Assert.Equal("pong", Encoding.ASCII.GetString(buffer, 0, 4));

        received.Dispose();
        Assert.False(Pipe.IsReadable(far)); // the original still holds it open
        payload.Left.Dispose();
        Assert.Equal(0, await far.ReceiveAsync(buffer).WaitAsync(Guard));
    }

    [Fact]
    public void ReceivedSocket_CarriesDescriptorsItself()
    {
        using var transport = SocketPair.Create();
        using var payload = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile("relayed");

        transport.Left.SendSocket(payload.Left);
        using Socket received = transport.Right.ReceiveSocket();
        received.SendFd(file);

        using SafeFileHandle relayed = payload.Right.ReceiveFd();
        Assert.Equal("relayed", Descriptors.ReadAll(relayed));
    }

    [Fact]
    public async Task ReceivedListeningSocket_AcceptsAConnection_AfterTheOriginalIsClosed()
    {
        string path = Path.Combine(Directory.CreateTempSubdirectory("asyncsendfd-").FullName, "listener");
        using var transport = SocketPair.Create();
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen();

        await transport.Left.SendSocketAsync(listener);
        using Socket received = await transport.Right.ReceiveSocketAsync().AsTask().WaitAsync(Guard);

        using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await client.ConnectAsync(new UnixDomainSocketEndPoint(path)).WaitAsync(Guard);

        // .NET unlinks the path when a bound socket is disposed, so the original goes once the client is queued.
        listener.Dispose();
        using Socket accepted = await received.AcceptAsync().WaitAsync(Guard);
        client.Send("hi"u8);
        var buffer = new byte[2];
        Assert.Equal(2, accepted.Receive(buffer));
        Assert.Equal("hi", Encoding.ASCII.GetString(buffer));
    }

    private static void AssertWorks(Socket a, Socket b)
    {
        var buffer = new byte[16];
        Assert.Equal(4, a.Send("ping"u8));
        Assert.Equal(4, b.Receive(buffer));
        Assert.Equal("ping", Encoding.ASCII.GetString(buffer, 0, 4));
        Assert.Equal(4, b.Send("pong"u8));
        Assert.Equal(4, a.Receive(buffer));
        Assert.Equal("pong", Encoding.ASCII.GetString(buffer, 0, 4));
    }
}
