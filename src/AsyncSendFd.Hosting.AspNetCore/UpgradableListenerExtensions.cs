using System.Net;
using AsyncSendFd.Hosting.AspNetCore.Internal;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AsyncSendFd.Hosting;

/// <summary>Kestrel's side of zero-downtime upgrades.</summary>
public static class UpgradableListenerExtensions
{
    /// <summary>
    /// Makes Kestrel's socket transport take each endpoint's listening socket (TCP or Unix domain) from the previous
    /// generation when it handed one over for that endpoint, and bind it as usual otherwise; every listener is then
    /// shared with the next generation. Once a successor has taken over, this generation stops accepting at once and
    /// drains its connections over <see cref="UpgradableListenerOptions.DrainWindow"/> (5 seconds). <c>--urls</c>,
    /// <c>ASPNETCORE_URLS</c>, <c>ListenUnixSocket</c> and configured endpoints keep working unchanged.
    /// Needs <see cref="UpgradeHostingExtensions.UseZeroDowntimeUpgrades(IHostBuilder, Action{UpgradeOptions})"/>
    /// (without it, building or starting the host throws an <see cref="InvalidOperationException"/> that says so),
    /// and comes after <c>UseKestrel</c> and <c>UseSockets</c> (the default builders call them first).
    /// </summary>
    /// <param name="builder">The web host builder (for a <c>WebApplicationBuilder</c>, its <c>WebHost</c>).</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is null.</exception>
    public static IWebHostBuilder UseUpgradableListeners(this IWebHostBuilder builder) => builder.UseUpgradableListeners(_ => { });

    /// <summary>
    /// The same as <see cref="UseUpgradableListeners(IWebHostBuilder)"/>, with the drain configured. The options are
    /// ordinary <see cref="IOptions{TOptions}"/>: <c>services.Configure&lt;UpgradableListenerOptions&gt;(section)</c>
    /// binds them from configuration as well. They are validated when the host starts
    /// (<see cref="OptionsValidationException"/>): the drain window must be zero or more and shorter than the host's
    /// shutdown timeout.
    /// </summary>
    /// <param name="builder">The web host builder (for a <c>WebApplicationBuilder</c>, its <c>WebHost</c>).</param>
    /// <param name="configure">Sets the options, e.g. <see cref="UpgradableListenerOptions.DrainWindow"/>.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static IWebHostBuilder UseUpgradableListeners(this IWebHostBuilder builder, Action<UpgradableListenerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        return builder.ConfigureServices(services =>
        {
            OptionsBuilder<UpgradableListenerOptions> options = services.AddOptions<UpgradableListenerOptions>().Configure(configure);
            if (services.Any(service => service.ServiceType == typeof(ConnectionDrain)))
            {
                // Called again: the options add up, the transport is set up once.
                return;
            }

            options.Validate<IOptions<HostOptions>>((drain, host) => IsValidWindow(drain.DrainWindow, host.Value.ShutdownTimeout),
                    "UpgradableListenerOptions.DrainWindow must be zero or more and shorter than HostOptions.ShutdownTimeout.")
                .ValidateOnStart();
            services.AddSingleton(provider => new ListenerSockets(RequireUpgrader(provider), provider.GetRequiredService<ILogger<Upgrader>>()));
            services.AddSingleton(provider => new ConnectionDrain(provider.GetRequiredService<ILogger<Upgrader>>()));
            services.AddOptions<SocketTransportOptions>().Configure<ListenerSockets>((transport, sockets) =>
            {
                Func<EndPoint, System.Net.Sockets.Socket> bindNew = transport.CreateBoundListenSocket;
                transport.CreateBoundListenSocket = endpoint => sockets.AdoptOrBind(endpoint, bindNew);
            });

            // Registered last, Kestrel picks it over the plain socket transport.
            services.AddSingleton<IConnectionListenerFactory>(provider => new UpgradableTransportFactory(
                new SocketTransportFactory(provider.GetRequiredService<IOptions<SocketTransportOptions>>(), provider.GetRequiredService<ILoggerFactory>()),
                provider.GetRequiredService<ListenerSockets>(), RequireUpgrader(provider), provider.GetRequiredService<ConnectionDrain>(),
                provider.GetRequiredService<ILogger<Upgrader>>()));
            services.AddSingleton<IStartupFilter>(new DrainMiddleware());
            services.AddHostedService(provider => new DrainHostedService(
                RequireUpgrader(provider), provider.GetRequiredService<ConnectionDrain>(), provider.GetRequiredService<IOptions<UpgradableListenerOptions>>()));
        });
    }

    /// <summary>The name a listener travels under: the endpoint as configured, so that port 0 and host names match too.</summary>
    /// <param name="endpoint">The endpoint Kestrel asks a socket for.</param>
    /// <returns>For example <c>kestrel:127.0.0.1:8080</c>, <c>kestrel:[::]:80</c> or <c>kestrel:/run/app/web.sock</c>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="endpoint"/> is null.</exception>
    public static string ListenerName(EndPoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        return "kestrel:" + endpoint;
    }

    private static Upgrader RequireUpgrader(IServiceProvider provider) =>
        provider.GetService<Upgrader>() ?? throw new InvalidOperationException(
            "UseUpgradableListeners needs the upgrader: add builder.Host.UseZeroDowntimeUpgrades(upgrades => upgrades.SocketPath = ...).");

    private static bool IsValidWindow(TimeSpan window, TimeSpan shutdownTimeout) =>
        window >= TimeSpan.Zero && (window < shutdownTimeout || shutdownTimeout == Timeout.InfiniteTimeSpan) && window.TotalMilliseconds <= int.MaxValue;
}
