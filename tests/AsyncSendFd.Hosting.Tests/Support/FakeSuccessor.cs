using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace AsyncSendFd.Hosting.Tests.Support;

/// <summary>A successor written by hand: a connection to the control socket, spoken to frame by frame.</summary>
internal sealed class FakeSuccessor : IDisposable
{
    public FakeSuccessor(Socket socket, string token)
    {
        Socket = socket;
        Token = token;
        Channel = new FdMessageChannel(socket);
    }

    public Socket Socket { get; }

    /// <summary>The one-time token its hello presents: a child's from its environment, or the token file's.</summary>
    public string Token { get; }

    public FdMessageChannel Channel { get; }

    /// <summary>Connects from this process (so the serving generation sees this process's credentials), with the token file's token unless told another.</summary>
    public static async Task<FakeSuccessor> ConnectAsync(ServingGeneration serving, string? token = null)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(serving.SocketPath));
        return new FakeSuccessor(socket, token ?? serving.FileToken());
    }

    public async Task SendAsync(byte[] payload, params SafeHandle[] fds) => await Channel.SendAsync(payload, fds);

    /// <summary>The next message (null at end of stream), within the guard.</summary>
    public async Task<FdMessage?> ReceiveAsync()
    {
        using var guard = new CancellationTokenSource(Timeouts.Guard);
        return await Channel.ReceiveAsync(guard.Token);
    }

    public Task SendHelloAsync() => SendAsync(Wire.Hello(Token));

    /// <summary>Says hello and reads the offer: its descriptor count (the offered descriptors are closed at once).</summary>
    public async Task<int> HelloAndOfferAsync()
    {
        await SendHelloAsync();
        using FdMessage? offer = await ReceiveAsync();
        Assert.NotNull(offer);
        Assert.Equal(Wire.Offer, Wire.TypeOf(offer));
        return offer.FdCount;
    }

    /// <summary>The next message's type and text; asserts one came.</summary>
    public async Task<(byte Type, string Text)> ReceiveTextAsync()
    {
        using FdMessage? message = await ReceiveAsync();
        Assert.NotNull(message);
        Assert.Equal(0, message.FdCount);
        return (Wire.TypeOf(message), Wire.Text(message));
    }

    public void Dispose() => Socket.Dispose();
}
