using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace AsyncSendFd.Hosting.AspNetCore.Internal;

/// <summary>
/// A connection this generation accepted, as the drain sees it; set as a connection feature, so the HTTP middleware
/// finds it from any request on the connection.
/// </summary>
internal sealed class DrainingConnection(ConnectionContext connection, ConnectionDrain drain)
{
    private volatile bool _isHttp2;

    public ConnectionDrain Drain => drain;

    /// <summary>Whether a request on it was HTTP/2 (known from its first request on).</summary>
    public bool IsHttp2 => _isHttp2;

    /// <summary>An HTTP/2 request arrived: once draining, the connection is told to go away.</summary>
    public void OnHttp2Request()
    {
        _isHttp2 = true;
        if (drain.IsDraining)
        {
            RequestClose();
        }
    }

    /// <summary>
    /// Kestrel's graceful close: HTTP/2 sends GOAWAY and finishes its streams; HTTP/1.1 finishes the request in
    /// flight (its response says <c>Connection: close</c>) and closes an idle connection at once.
    /// </summary>
    public void RequestClose() => connection.Features.Get<IConnectionLifetimeNotificationFeature>()?.RequestClose();

    public void OnClosed() => drain.OnClosed(this);
}
