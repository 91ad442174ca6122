using System.Net.Sockets;
using AsyncSendFd.Systemd;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Tests.Features;

/// <summary>
/// <c>ToSocket</c> turns a descriptor that arrived as a <see cref="SafeFileHandle"/> (systemd, <c>ReceiveFds</c>) into a
/// <see cref="Socket"/>: it checks that it is a socket of the kind asked for, and on any failure closes it.
/// </summary>
public class SocketAdoptionTests
{
    [Fact]
    public void ToSocket_OfASocketDescriptor_AdoptsItAndRetiresTheHandle()
    {
        using var pair = SocketPair.Create();
        SafeFileHandle handle = Duplicate(pair.Left);

        using Socket adopted = handle.ToSocket(AddressFamily.Unix, SocketType.Stream);

        Assert.True(handle.IsClosed);
        handle.Dispose(); // must not close the descriptor the socket now owns
        Assert.Equal(AddressFamily.Unix, adopted.AddressFamily);
        adopted.Send("ping"u8);
        var buffer = new byte[4];
        Assert.Equal(4, pair.Right.Receive(buffer));
        Assert.Equal("ping"u8.ToArray(), buffer);
    }

    [Fact]
    public void ToSocket_OfANonSocket_ClosesItAndThrowsArgumentException()
    {
        using var pipe = Pipe.Create();
        SafeFileHandle writeEnd = pipe.Write;

        Assert.Throws<ArgumentException>("handle", () => writeEnd.ToSocket());

        Assert.True(writeEnd.IsClosed);
        Assert.True(pipe.AllWritersClosed());
    }

    [Theory]
    [InlineData(AddressFamily.Unix, SocketType.Dgram)]
    [InlineData(AddressFamily.InterNetwork, SocketType.Stream)]
    public void ToSocket_OfAnotherKindOfSocket_ClosesItAndThrowsArgumentException(AddressFamily family, SocketType type)
    {
        using var pair = SocketPair.Create();
        SafeFileHandle handle = Duplicate(pair.Left);
        pair.Left.Dispose(); // the duplicate is now the only copy: the peer sees end of stream once it closes

        ArgumentException e = Assert.Throws<ArgumentException>("handle", () => handle.ToSocket(family, type));

        Assert.Contains("Unix", e.Message, StringComparison.Ordinal);
        Assert.True(handle.IsClosed);
        Assert.Equal(0, pair.Right.Receive(new byte[1]));
    }

    [Fact]
    public void ToSocket_OfANullOrClosedHandle_ThrowsTheDocumentedExceptions()
    {
        SafeFileHandle closed = Descriptors.TempFile();
        closed.Dispose();

        Assert.Throws<ArgumentNullException>("handle", () => ((SafeFileHandle)null!).ToSocket());
        Assert.Throws<ObjectDisposedException>(() => closed.ToSocket());
        Assert.Throws<ArgumentException>("handle", () => new SafeFileHandle(-1, ownsHandle: true).ToSocket());
    }

    [Fact]
    public void SystemdFileDescriptor_ToSocket_AdoptsAPassedListener()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        listener.Listen(1);
        var passed = new SystemdFileDescriptor("listener", Duplicate(listener));

        using Socket adopted = passed.ToSocket();

        Assert.True(passed.Handle.IsClosed);
        Assert.Equal(listener.LocalEndPoint, adopted.LocalEndPoint);
        Assert.Equal(SocketType.Stream, adopted.SocketType);
    }

    private static SafeFileHandle Duplicate(Socket socket)
    {
        int fd = Native.Interop.Unix.LibC.fcntl((int)socket.SafeHandle.DangerousGetHandle(), TestLibC.F_DUPFD_CLOEXEC, 0);
        Assert.True(fd >= 0);
        return new SafeFileHandle(fd, ownsHandle: true);
    }
}
