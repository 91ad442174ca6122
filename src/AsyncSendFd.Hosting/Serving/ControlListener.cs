using System.Net.Sockets;
using AsyncSendFd.Hosting.Internal;
using AsyncSendFd.Hosting.Protocol;
using Microsoft.Extensions.Logging;

namespace AsyncSendFd.Hosting.Serving;

/// <summary>
/// The control socket's listening end: bound by the first generation, handed over with every upgrade since. It
/// accepts connections, asks the kernel who connected, reads what each says first, and passes it on.
/// </summary>
internal sealed class ControlListener(Socket socket, ILogger logger)
{
    /// <summary>What a connection said first: a successor's hello (with its token), or a client's upgrade request.</summary>
    public delegate Task GreetedHandler(ControlConnection connection, UnixPeerCredentials peer, UpgradeWire.Greeting greeting, string token);

    /// <summary>A connection that said nothing of this protocol in time (<paramref name="what"/> says how).</summary>
    public delegate void SilentHandler(UnixPeerCredentials peer, string what);

    public Socket Socket { get; } = socket;

    /// <summary>Binds the control socket of a first generation.</summary>
    public static ControlListener Bind(string path, ILogger logger)
    {
        // Only reached when nothing listens there: a file left by a generation that died is stale.
        File.Delete(path);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(path));
            socket.Listen(16);
            return new ControlListener(socket, logger);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Accepts until <paramref name="stop"/>; each connection's first message is read within <paramref name="firstMessageTimeout"/>.</summary>
    public async Task AcceptAsync(TimeSpan firstMessageTimeout, GreetedHandler greeted, SilentHandler silent, CancellationToken stop)
    {
        while (true)
        {
            Socket accepted;
            try
            {
                accepted = await Socket.AcceptAsync(stop).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                Log.ControlConnectionFailed(logger, e.Message);
                continue;
            }

            _ = GreetAsync(new ControlConnection(accepted), firstMessageTimeout, greeted, silent, stop);
        }
    }

    private static async Task GreetAsync(ControlConnection connection, TimeSpan timeout, GreetedHandler greeted, SilentHandler silent, CancellationToken stop)
    {
        UnixPeerCredentials peer;
        UpgradeWire.Greeting greeting;
        string token;
        try
        {
            peer = connection.Socket.GetPeerCredentials();
        }
        catch (SocketException)
        {
            connection.Dispose();
            return;
        }

        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stop);
            deadline.CancelAfter(timeout);

            // Read first even from a peer about to be refused (see ControlConnection.RefuseAsync).
            using FdMessage? first = await connection.ReceiveAsync(deadline.Token).ConfigureAwait(false);
            (greeting, token) = first is null ? (UpgradeWire.Greeting.Unknown, "") : UpgradeWire.ReadGreeting(first.Payload.Span);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or InvalidOperationException)
        {
            connection.Dispose();
            if (!stop.IsCancellationRequested)
            {
                silent(peer, e is OperationCanceledException ? $"said nothing within {timeout}" : $"broke the first frame ({e.Message})");
            }

            return;
        }

        await greeted(connection, peer, greeting, token).ConfigureAwait(false);
    }
}
