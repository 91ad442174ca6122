using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Tests.Rules.Errors;

/// <summary>Bad input is rejected with the documented exception before anything is written.</summary>
public sealed class ArgumentValidationTests : IDisposable
{
    private readonly SocketPair _pair = SocketPair.Create();
    private readonly SafeFileHandle _file = Descriptors.TempFile("valid");

    private Socket Left => _pair.Left;

    public void Dispose()
    {
        // Whatever was rejected, the caller's handle is still open and usable.
        Assert.False(_file.IsClosed);
        Assert.Equal("valid", Descriptors.ReadAll(_file));
        _file.Dispose();
        _pair.Dispose();
    }

    private void AssertNothingWritten()
    {
        Assert.Equal(0, _pair.Right.Available);
        Assert.False(Pipe.IsReadable(_pair.Right));
    }

    private void AssertRejected<TException>(Action send)
        where TException : Exception
    {
        Assert.Throws<TException>(send);
        AssertNothingWritten();
    }

    private async Task AssertRejectedAsync<TException>(Func<ValueTask> send)
        where TException : Exception
    {
        await Assert.ThrowsAsync<TException>(async () => await send());
        AssertNothingWritten();
    }

    // Null socket.

    [Fact]
    public async Task AllMethods_WithNullSocket_ThrowArgumentNullException()
    {
        Socket socket = null!;
        Assert.Equal("socket", Assert.Throws<ArgumentNullException>(() => socket.SendFd(_file)).ParamName);
        Assert.Equal("socket", Assert.Throws<ArgumentNullException>(() => socket.SendFds("x"u8, [_file])).ParamName);
        Assert.Equal("socket", Assert.Throws<ArgumentNullException>(() => socket.SendSocket(Left)).ParamName);
        Assert.Equal("socket", Assert.Throws<ArgumentNullException>(() => socket.ReceiveFd()).ParamName);
        Assert.Equal("socket", Assert.Throws<ArgumentNullException>(() => socket.ReceiveSocket()).ParamName);
        Assert.Equal("socket", Assert.Throws<ArgumentNullException>(() => socket.ReceiveFds(new byte[1], new SafeFileHandle?[1])).ParamName);
        await Assert.ThrowsAsync<ArgumentNullException>(async () => await socket.SendFdAsync(_file));
        await Assert.ThrowsAsync<ArgumentNullException>(async () => await socket.SendFdsAsync(new byte[1], new SafeHandle[] { _file }));
        await Assert.ThrowsAsync<ArgumentNullException>(async () => await socket.SendSocketAsync(Left));
        await Assert.ThrowsAsync<ArgumentNullException>(async () => await socket.ReceiveFdAsync());
        await Assert.ThrowsAsync<ArgumentNullException>(async () => await socket.ReceiveSocketAsync());
        await Assert.ThrowsAsync<ArgumentNullException>(async () => await socket.ReceiveFdsAsync(new byte[1], new SafeFileHandle?[1]));
        AssertNothingWritten();
    }

    // Null handle.

    [Fact]
    public void SendFd_WithNullHandle_ThrowsArgumentNullException_AndWritesNothing() =>
        AssertRejected<ArgumentNullException>(() => Left.SendFd(null!));

    [Fact]
    public Task SendFdAsync_WithNullHandle_ThrowsArgumentNullException_AndWritesNothing() =>
        AssertRejectedAsync<ArgumentNullException>(() => Left.SendFdAsync(null!));

    [Fact]
    public void SendFds_WithANullHandleAmongValidOnes_ThrowsArgumentNullException_AndWritesNothing() =>
        AssertRejected<ArgumentNullException>(() => Left.SendFds("x"u8, [_file, null!, _file]));

    [Fact]
    public Task SendFdsAsync_WithANullHandleAmongValidOnes_ThrowsArgumentNullException_AndWritesNothing() =>
        AssertRejectedAsync<ArgumentNullException>(() => Left.SendFdsAsync(new byte[1], new SafeHandle[] { _file, null! }));

    [Fact]
    public void SendSocket_WithNullSocketToSend_ThrowsArgumentNullException_AndWritesNothing() =>
        AssertRejected<ArgumentNullException>(() => Left.SendSocket(null!));

    [Fact]
    public Task SendSocketAsync_WithNullSocketToSend_ThrowsArgumentNullException_AndWritesNothing() =>
        AssertRejectedAsync<ArgumentNullException>(() => Left.SendSocketAsync(null!));

    // Disposed handle.

    [Fact]
    public void SendFd_WithDisposedHandle_ThrowsObjectDisposedException_AndWritesNothing()
    {
        SafeFileHandle disposed = Descriptors.TempFile();
        disposed.Dispose();
        AssertRejected<ObjectDisposedException>(() => Left.SendFd(disposed));
    }

    [Fact]
    public Task SendFdAsync_WithClosedHandle_ThrowsObjectDisposedException_AndWritesNothing()
    {
        SafeFileHandle closed = Descriptors.TempFile();
        closed.Close();
        return AssertRejectedAsync<ObjectDisposedException>(() => Left.SendFdAsync(closed));
    }

    [Fact]
    public void SendFds_WithADisposedHandleAfterValidOnes_ThrowsObjectDisposedException_AndReleasesTheValidOnes()
    {
        using var pipe = Pipe.Create();
        var valid = new TrackingHandle(pipe.Write);
        SafeFileHandle disposed = Descriptors.TempFile();
        disposed.Dispose();

        AssertRejected<ObjectDisposedException>(() => Left.SendFds("x"u8, [valid, disposed]));

        valid.Dispose();
        Assert.Equal(1, valid.Releases);
    }

    [Fact]
    public Task SendFdsAsync_WithADisposedHandle_ThrowsObjectDisposedException_AndWritesNothing()
    {
        SafeFileHandle disposed = Descriptors.TempFile();
        disposed.Dispose();
        return AssertRejectedAsync<ObjectDisposedException>(() => Left.SendFdsAsync(new byte[1], new SafeHandle[] { _file, disposed }));
    }

    [Fact]
    public void SendSocket_WithDisposedSocketToSend_ThrowsObjectDisposedException_AndWritesNothing()
    {
        var other = SocketPair.Create();
        other.Dispose();
        AssertRejected<ObjectDisposedException>(() => Left.SendSocket(other.Left));
    }

    [Fact]
    public Task SendSocketAsync_WithDisposedSocketToSend_ThrowsObjectDisposedException_AndWritesNothing()
    {
        var other = SocketPair.Create();
        other.Dispose();
        return AssertRejectedAsync<ObjectDisposedException>(() => Left.SendSocketAsync(other.Left));
    }

    [Fact]
    public async Task AllMethods_OnADisposedSocket_ThrowObjectDisposedException()
    {
        using var pair = SocketPair.Create();
        pair.Left.Dispose();
        Socket socket = pair.Left;
        Assert.Throws<ObjectDisposedException>(() => socket.SendFd(_file));
        Assert.Throws<ObjectDisposedException>(() => socket.SendFds("x"u8, [_file]));
        Assert.Throws<ObjectDisposedException>(() => socket.SendSocket(Left));
        Assert.Throws<ObjectDisposedException>(() => socket.ReceiveFd());
        Assert.Throws<ObjectDisposedException>(() => socket.ReceiveSocket());
        Assert.Throws<ObjectDisposedException>(() => socket.ReceiveFds(new byte[1], new SafeFileHandle?[1]));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await socket.SendFdAsync(_file));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await socket.SendFdsAsync(new byte[1], new SafeHandle[] { _file }));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await socket.SendSocketAsync(Left));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await socket.ReceiveFdAsync());
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await socket.ReceiveSocketAsync());
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await socket.ReceiveFdsAsync(new byte[1], new SafeFileHandle?[1]));
    }

    // Invalid handle.

    [Fact]
    public void SendFd_WithInvalidHandle_ThrowsArgumentException_AndWritesNothing()
    {
        using var invalid = new SafeFileHandle(-1, ownsHandle: false);
        AssertRejected<ArgumentException>(() => Left.SendFd(invalid));
    }

    [Fact]
    public Task SendFdAsync_WithInvalidHandle_ThrowsArgumentException_AndWritesNothing()
    {
        var invalid = new SafeFileHandle(-1, ownsHandle: false);
        return AssertRejectedAsync<ArgumentException>(() => Left.SendFdAsync(invalid));
    }

    [Fact]
    public void SendFds_WithAnInvalidHandleAmongValidOnes_ThrowsArgumentException_AndWritesNothing()
    {
        using var invalid = new SafeFileHandle(-1, ownsHandle: false);
        AssertRejected<ArgumentException>(() => Left.SendFds("x"u8, [_file, invalid]));
    }

    [Fact]
    public Task SendFdsAsync_WithAnInvalidHandle_ThrowsArgumentException_AndWritesNothing()
    {
        var invalid = new SafeFileHandle(-1, ownsHandle: false);
        return AssertRejectedAsync<ArgumentException>(() => Left.SendFdsAsync(new byte[1], new SafeHandle[] { invalid }));
    }

    // Too many descriptors.

    [Fact]
    public void SendFds_WithMoreThanMaxFdsPerMessage_ThrowsArgumentOutOfRangeException_AndWritesNothing()
    {
        SafeHandle[] fds = [.. Enumerable.Repeat<SafeHandle>(_file, SocketFdExtensions.MaxFdsPerMessage + 1)];
        AssertRejected<ArgumentOutOfRangeException>(() => Left.SendFds("x"u8, fds));
    }

    [Fact]
    public Task SendFdsAsync_WithMoreThanMaxFdsPerMessage_ThrowsArgumentOutOfRangeException_AndWritesNothing()
    {
        SafeHandle[] fds = [.. Enumerable.Repeat<SafeHandle>(_file, SocketFdExtensions.MaxFdsPerMessage + 1)];
        return AssertRejectedAsync<ArgumentOutOfRangeException>(() => Left.SendFdsAsync(new byte[1], fds));
    }

    [Theory]
    [InlineData(SocketType.Dgram)]
    [LinuxInlineData(SocketType.Seqpacket)]
    public void SendFds_WithMoreThanMaxFdsPerMessageOnMessageSockets_ThrowsArgumentOutOfRangeException(SocketType type)
    {
        using var pair = SocketPair.Create(type);
        SafeHandle[] fds = [.. Enumerable.Repeat<SafeHandle>(_file, 300)];
        Assert.Throws<ArgumentOutOfRangeException>(() => pair.Left.SendFds([], fds));
        Assert.False(Pipe.IsReadable(pair.Right));
    }

    // Empty data with descriptors on a stream.

    [Fact]
    public void SendFds_WithDescriptorsAndEmptyDataOnStream_ThrowsArgumentException_AndWritesNothing() =>
        AssertRejected<ArgumentException>(() => Left.SendFds([], [_file]));

    [Fact]
    public Task SendFdsAsync_WithDescriptorsAndEmptyDataOnStream_ThrowsArgumentException_AndWritesNothing() =>
        AssertRejectedAsync<ArgumentException>(() => Left.SendFdsAsync(ReadOnlyMemory<byte>.Empty, new SafeHandle[] { _file }));

    // Not a Unix socket.

    [Fact]
    public async Task AllMethods_OnConnectedTcpSocket_ThrowNotSupportedException_AndWriteNothing()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        using Socket server = await listener.AcceptAsync();

        await AssertNotSupportedAsync(client);

        Assert.Equal(0, server.Available);
        Assert.False(server.Poll(0, SelectMode.SelectRead));
    }

    [Fact]
    public async Task AllMethods_OnConnectedUdpSocket_ThrowNotSupportedException_AndWriteNothing()
    {
        using var a = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        using var b = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        a.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        b.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        a.Connect(b.LocalEndPoint!);
        b.Connect(a.LocalEndPoint!);

        await AssertNotSupportedAsync(a);

        Assert.Equal(0, b.Available);
        Assert.False(b.Poll(0, SelectMode.SelectRead));
    }

    private async Task AssertNotSupportedAsync(Socket socket)
    {
        Assert.Throws<NotSupportedException>(() => socket.SendFd(_file));
        Assert.Throws<NotSupportedException>(() => socket.SendFds("x"u8, [_file]));
        Assert.Throws<NotSupportedException>(() => socket.SendSocket(Left));
        await Assert.ThrowsAsync<NotSupportedException>(async () => await socket.SendFdAsync(_file));
        await Assert.ThrowsAsync<NotSupportedException>(async () => await socket.SendFdsAsync(new byte[1], new SafeHandle[] { _file }));
        await Assert.ThrowsAsync<NotSupportedException>(async () => await socket.SendSocketAsync(Left));
        Assert.Throws<NotSupportedException>(() => socket.ReceiveFd());
        Assert.Throws<NotSupportedException>(() => socket.ReceiveSocket());
        Assert.Throws<NotSupportedException>(() => socket.ReceiveFds(new byte[1], new SafeFileHandle?[1]));
        await Assert.ThrowsAsync<NotSupportedException>(async () => await socket.ReceiveFdAsync());
        await Assert.ThrowsAsync<NotSupportedException>(async () => await socket.ReceiveSocketAsync());
        await Assert.ThrowsAsync<NotSupportedException>(async () => await socket.ReceiveFdsAsync(new byte[1], new SafeFileHandle?[1]));
    }

    // Rejection leaves the socket usable.

    [Fact]
    public void AfterRejectedSends_TheNextValidMessageArrivesFirstAndWhole()
    {
        using var invalid = new SafeFileHandle(-1, ownsHandle: false);
        Assert.Throws<ArgumentException>(() => Left.SendFds("bad"u8, [_file, invalid]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Left.SendFds("bad"u8, [.. Enumerable.Repeat<SafeHandle>(_file, 253)]));
        Assert.Throws<ArgumentException>(() => Left.SendFds([], [_file]));

        Left.SendFds("good"u8, [_file]);

        var data = new byte[16];
        var slots = new SafeFileHandle?[4];
        Assert.Equal(new FdReceiveResult(4, 1), _pair.Right.ReceiveFds(data, slots));
        Assert.Equal("good"u8.ToArray(), data[..4]);
        Assert.Equal("valid", Descriptors.ReadAll(slots[0]!));
        Descriptors.DisposeAll(slots);
        AssertNothingWritten();
    }
}
