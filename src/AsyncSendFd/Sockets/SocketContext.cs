using System.Net.Sockets;
using System.Runtime.CompilerServices;
using AsyncSendFd.Engine;
using AsyncSendFd.Syscalls;

namespace AsyncSendFd.Sockets;

/// <summary>
/// What the library keeps per socket object, as .NET keeps a SocketAsyncContext: one gate per direction, so that
/// concurrent sends never interleave bytes and concurrent receives never split a message, and its waits on the
/// readiness engine.
/// </summary>
/// <remarks>Attached with a <see cref="ConditionalWeakTable{TKey, TValue}"/>: it lives exactly as long as the socket.</remarks>
internal sealed class SocketContext
{
    private static readonly ConditionalWeakTable<Socket, SocketContext> Contexts = new();

    private SocketContext(Socket socket)
    {
        Readiness = new SocketReadiness(socket.SafeHandle, EngineHost.Shared);
        using HandleLease lease = HandleLease.OfSocket(socket);
        SocketCalls.DisableSigPipe(lease.Descriptor);
    }

    public Gate SendGate { get; } = new();

    public Gate ReceiveGate { get; } = new();

    public SocketReadiness Readiness { get; }

    public static SocketContext Of(Socket socket) => Contexts.GetValue(socket, static s => new SocketContext(s));

    /// <summary>Takes a blocking call's turn at the gate for its direction, within the call's deadline.</summary>
    /// <returns><see cref="Errno.Success"/> with the gate held, or <see cref="Errno.ETIMEDOUT"/>.</returns>
    public Errno EnterGate(Interest direction, ref Deadline deadline)
    {
        Gate gate = direction == Interest.Write ? SendGate : ReceiveGate;
        return gate.TryEnter() || gate.Enter(deadline.RemainingMilliseconds()) ? Errno.Success : Errno.ETIMEDOUT;
    }

    /// <summary>
    /// Whether <see cref="Socket.Dispose()"/> was called. <see cref="System.Runtime.InteropServices.SafeHandle.IsClosed"/>
    /// stays false while any reference is held, so ask a member that checks the socket's own flag.
    /// Only for failure and end-of-stream paths: it costs a syscall.
    /// </summary>
    public static bool IsDisposed(Socket socket)
    {
        try
        {
            _ = socket.Available;
            return false;
        }
        catch (ObjectDisposedException)
        {
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
