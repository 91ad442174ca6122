using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace AsyncSendFd.Hosting.Protocol;

/// <summary>
/// One connection on the control socket, seen from either end: the socket, its framing (<see cref="UpgradeWire"/>
/// messages, one <see cref="FdMessageChannel"/> frame each), and the ways a side ends the conversation.
/// </summary>
internal sealed class ControlConnection(Socket socket) : IDisposable
{
    private static readonly TimeSpan s_lastWordTimeout = TimeSpan.FromSeconds(1);

    private readonly FdMessageChannel _channel = new(socket);

    public Socket Socket { get; } = socket;

    /// <summary>The next message, or <see langword="null"/> at end of stream.</summary>
    public ValueTask<FdMessage?> ReceiveAsync(CancellationToken cancellationToken = default) => _channel.ReceiveAsync(cancellationToken);

    /// <summary>
    /// The next message, or <see langword="null"/> at end of stream; when <paramref name="giveUp"/> fires first, throws
    /// <see cref="OperationCanceledException"/> and leaves the receive to end with the connection. Unlike a canceled
    /// receive, this never stops midway through a frame, so the stream stays whole and a last word (Abort) can still go out.
    /// </summary>
    public async Task<FdMessage?> ReceiveOrGiveUpAsync(CancellationToken giveUp)
    {
        Task<FdMessage?> receive = _channel.ReceiveAsync(CancellationToken.None).AsTask();
        try
        {
            return await receive.WaitAsync(giveUp).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Whatever still arrives is closed, and an error from the closed socket is observed.
            _ = receive.ContinueWith(
                static r =>
                {
                    if (r.IsCompletedSuccessfully)
                    {
                        r.Result?.Dispose();
                    }
                    else
                    {
                        _ = r.Exception;
                    }
                },
                TaskScheduler.Default);
            throw;
        }
    }

    public ValueTask SendAsync(byte[] message, CancellationToken cancellationToken) => _channel.SendAsync(message, default, cancellationToken);

    public ValueTask SendAsync(byte[] message, ReadOnlyMemory<SafeHandle> fds, CancellationToken cancellationToken) =>
        _channel.SendAsync(message, fds, cancellationToken);

    /// <summary>Sends a last word to a peer that may be gone or not reading; gives up after a second.</summary>
    public async Task TrySendAsync(byte[] message)
    {
        try
        {
            using var timeout = new CancellationTokenSource(s_lastWordTimeout);
            await _channel.SendAsync(message, default, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            // The peer is gone or not reading, or stalled midway through a frame (the channel is faulted): nothing more to tell it.
        }
    }

    /// <summary>
    /// Tells the peer why it is turned away, then stops sending. Its first message must have been read: closing with
    /// it unread would reset the connection, and the reason would never reach the other side.
    /// </summary>
    public async Task RefuseAsync(string reason)
    {
        await TrySendAsync(UpgradeWire.EncodeText(UpgradeWire.Refused, reason)).ConfigureAwait(false);
        try
        {
            Socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Gone already.
        }
    }

    public void Dispose() => Socket.Dispose();
}
