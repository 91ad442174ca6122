using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace AsyncSendFd.Hosting.AspNetCore.Internal;

/// <summary>
/// Kestrel's listener for one endpoint, around the socket transport's: it stops accepting the moment this
/// generation retires, tracks what it accepted for the drain, and closes the listening socket only when no other
/// generation serves from it.
/// </summary>
/// <remarks>
/// A listening socket shared with another process is never closed while this process runs: to unblock an accept in
/// progress, .NET disconnects or shuts down a socket it closes, which acts on the socket itself (for both processes),
/// and disposing the Socket that bound a Unix path unlinks the path. Its descriptor closes when the process exits.
/// Even a socket this process may close is closed only once no accept runs on it.
/// </remarks>
internal sealed class UpgradableListener(
    IConnectionListener inner, EndPoint configured, Socket socket, bool adopted, Upgrader upgrader, ConnectionDrain drain, ILogger logger)
    : IConnectionListener
{
    private readonly CancellationTokenSource _stopAccepting = new();
    private volatile Task _accepting = Task.CompletedTask;

    public EndPoint EndPoint => inner.EndPoint;

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        if (_stopAccepting.IsCancellationRequested)
        {
            return null;
        }

        using CancellationTokenSource? linked = cancellationToken.CanBeCanceled
            ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopAccepting.Token)
            : null;
        Task<ConnectionContext?> accepting = inner.AcceptAsync(linked?.Token ?? _stopAccepting.Token).AsTask();
        _accepting = accepting;
        try
        {
            // A connection accepted while the stop raced it is this generation's: tracked and answered like the others.
            ConnectionContext? connection = await accepting.ConfigureAwait(false);
            if (connection is not null)
            {
                drain.Track(connection);
            }

            return connection;
        }
        catch (OperationCanceledException) when (_stopAccepting.IsCancellationRequested)
        {
            // Kestrel's accept loop ends on null; connections still queued are the successor's to accept.
            return null;
        }
    }

    /// <summary>Cancels the accept in progress; the listening socket stays open.</summary>
    public void StopAccepting() => _stopAccepting.Cancel();

    public async ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        await StopAcceptingAsync().ConfigureAwait(false);
        if (ClosesSocket)
        {
            await inner.UnbindAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAcceptingAsync().ConfigureAwait(false);
        drain.Remove(this);
        if (!ClosesSocket)
        {
            ListenerSockets.KeepOpenUntilExit(socket);
            return;
        }

        upgrader.Unshare(UpgradableListenerExtensions.ListenerName(configured));
        await inner.DisposeAsync().ConfigureAwait(false);
        if (Serving && configured is UnixDomainSocketEndPoint unix)
        {
            // The serving generation closes the endpoint for good: its socket file goes too (closing an inherited
            // socket does not unlink it).
            try
            {
                UnixSocketFile.Delete(unix);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Log.SocketFileNotRemoved(logger, unix.ToString(), e.Message);
            }
        }
    }

    /// <summary>
    /// Whether the socket is this process's alone to close: the serving generation stopping for good, or one that bound
    /// it and never handed it over. Not a retired generation's (the successor serves from it), nor one inherited by a
    /// generation that never served (its predecessor still does).
    /// </summary>
    private bool ClosesSocket => !upgrader.Retired.IsCompleted && (Serving || !adopted);

    private bool Serving => upgrader.IsServing || drain.StoppingWhileServing;

    /// <summary>Stops accepting and waits until no accept runs, so that nothing uses the socket when it is closed.</summary>
    private async Task StopAcceptingAsync()
    {
        await _stopAccepting.CancelAsync().ConfigureAwait(false);
        try
        {
            await _accepting.ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // The accept loop has seen it already.
        }
    }
}
