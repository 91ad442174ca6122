namespace AsyncSendFd.Hosting;

/// <summary>How Kestrel drains a generation that has handed its listeners over (<see cref="UpgradableListenerExtensions"/>).</summary>
public sealed class UpgradableListenerOptions
{
    /// <summary>
    /// How long a retired generation keeps its open connections before closing the idle ones; 5 seconds by default.
    /// </summary>
    /// <remarks>
    /// Once a successor has taken over, this generation stops accepting at once (the successor accepts from the same
    /// listening sockets) and drains, as Envoy does: every request on a connection it accepted is answered, HTTP/1.1
    /// responses carry <c>Connection: close</c> and HTTP/2 connections get GOAWAY, so busy clients move to the
    /// successor on their own. A connection accepted just before the hand-over is answered too, however late its first
    /// request arrives within the window. When the window ends (or sooner, once every connection has closed) Kestrel
    /// stops as usual: idle connections are closed and requests in flight complete. The window counts within the
    /// host's <c>HostOptions.ShutdownTimeout</c> (30 seconds by default), so keep it well below that. Zero closes idle
    /// connections at once, as Kestrel's own graceful shutdown does.
    /// </remarks>
    public TimeSpan DrainWindow { get; set; } = TimeSpan.FromSeconds(5);
}
