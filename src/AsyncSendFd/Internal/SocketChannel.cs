using System.Net.Sockets;
using System.Runtime.CompilerServices;
using AsyncSendFd.Engine;

namespace AsyncSendFd.Internal;

/// <summary>
/// What the library keeps per socket: one gate per direction, so that concurrent sends never
/// interleave bytes and concurrent receives never split a message, and its registration with the readiness engine.
/// </summary>
/// <remarks>Attached with a <see cref="ConditionalWeakTable{TKey, TValue}"/>: it lives exactly as long as the socket.</remarks>
internal sealed class SocketChannel
{
    private static readonly ConditionalWeakTable<Socket, SocketChannel> Channels = new();

    private SocketChannel(Socket socket)
    {
        Readiness = new SocketReadiness(socket.SafeHandle, EngineHost.Shared);
        bool added = false;
        try
        {
            socket.SafeHandle.DangerousAddRef(ref added);
            NativeSocket.DisableSigPipe((int)socket.SafeHandle.DangerousGetHandle());
        }
        finally
        {
            if (added)
            {
                socket.SafeHandle.DangerousRelease();
            }
        }
    }

    public SemaphoreSlim SendGate { get; } = new(1, 1);

    public SemaphoreSlim ReceiveGate { get; } = new(1, 1);

    public SocketReadiness Readiness { get; }

    public static SocketChannel Of(Socket socket) => Channels.GetValue(socket, static s => new SocketChannel(s));
}
