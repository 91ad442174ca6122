using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging;

namespace AsyncSendFd.Hosting.AspNetCore.Internal;

/// <summary>Kestrel's socket transport, with each listener wrapped so that it can stop accepting and drain at hand-over.</summary>
internal sealed class UpgradableTransportFactory(
    SocketTransportFactory sockets, ListenerSockets listeners, Upgrader upgrader, ConnectionDrain drain, ILogger logger)
    : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    public bool CanBind(EndPoint endpoint) => sockets.CanBind(endpoint);

    public async ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        IConnectionListener inner = await listeners.BindThroughTransportAsync(() => sockets.BindAsync(endpoint, cancellationToken)).ConfigureAwait(false);
        (System.Net.Sockets.Socket socket, bool adopted) = listeners.Take(endpoint);
        var listener = new UpgradableListener(inner, endpoint, socket, adopted, upgrader, drain, logger);
        drain.Add(listener);
        return listener;
    }
}
