using System.Net;
using System.Net.Sockets;
using AsyncSendFd.Hosting.AspNetCore.Internal;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AsyncSendFd.Hosting;

/// <summary>Kestrel's side of zero-downtime upgrades.</summary>
public static class UpgradableListenerExtensions
{
    /// <summary>
    /// Makes Kestrel's socket transport take each endpoint's listening socket from the previous generation when it
    /// handed one over for that endpoint, and bind it as usual otherwise; every listener is then shared with the
    /// next generation. <c>--urls</c>, <c>ASPNETCORE_URLS</c> and configured endpoints keep working unchanged.
    /// Needs <see cref="UpgradeHostingExtensions.UseZeroDowntimeUpgrades(Microsoft.Extensions.Hosting.IHostBuilder, Action{UpgradeOptions})"/>.
    /// </summary>
    /// <param name="builder">The web host builder (for a <c>WebApplicationBuilder</c>, its <c>WebHost</c>).</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is null.</exception>
    public static IWebHostBuilder UseUpgradableListeners(this IWebHostBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.ConfigureServices(services => services
            .AddOptions<SocketTransportOptions>()
            .Configure<Upgrader, ILoggerFactory>((transport, upgrader, loggers) =>
                transport.CreateBoundListenSocket = endpoint => AdoptOrBind(upgrader, loggers.CreateLogger<Upgrader>(), endpoint)));
    }

    /// <summary>The name a listener travels under: the endpoint as configured, so that port 0 and host names match too.</summary>
    /// <param name="endpoint">The endpoint Kestrel asks a socket for.</param>
    /// <returns>For example <c>kestrel:127.0.0.1:8080</c> or <c>kestrel:[::]:80</c>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="endpoint"/> is null.</exception>
    public static string ListenerName(EndPoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        return "kestrel:" + endpoint;
    }

    private static Socket AdoptOrBind(Upgrader upgrader, ILogger logger, EndPoint endpoint)
    {
        string name = ListenerName(endpoint);
        Socket? socket = upgrader.TakeInheritedSocket(name);
        if (socket is not null)
        {
            Log.Adopted(logger, endpoint.ToString() ?? name);
        }
        else
        {
            socket = SocketTransportOptions.CreateDefaultBoundListenSocket(endpoint);
            Log.Bound(logger, endpoint.ToString() ?? name);
        }

        // Kestrel owns the socket (and closes its descriptor when it unbinds); the next generation gets a copy.
        upgrader.Share(name, socket.SafeHandle);
        return socket;
    }
}
