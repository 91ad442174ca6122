using System.Net.Sockets;

namespace AsyncSendFd.Tests.Support;

/// <summary>Two connected Unix sockets from <see cref="UnixSocketPair"/>, disposed together: <see cref="Socket"/>s.</summary>
internal sealed class SocketPair : IDisposable
{
    private SocketPair(Socket left, Socket right)
    {
        Left = left;
        Right = right;
    }

    public Socket Left { get; }

    public Socket Right { get; }

    public static SocketPair Create(SocketType type = SocketType.Stream)
    {
        (Socket left, Socket right) = UnixSocketPair.Create(type);
        return new SocketPair(left, right);
    }

    public void Dispose()
    {
        Left.Dispose();
        Right.Dispose();
    }
}
