using AsyncSendFd.Hosting.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AsyncSendFd.Hosting;

/// <summary>Zero-downtime upgrades for the .NET Generic Host (and so for ASP.NET Core).</summary>
public static class UpgradeHostingExtensions
{
    /// <summary>
    /// Makes this host upgradable in place: it takes over from the generation serving on the control socket, if
    /// any, before any hosted service starts; it is ready when <see cref="IHostApplicationLifetime.ApplicationStarted"/>
    /// fires; SIGHUP (or <see cref="Upgrader.UpgradeAsync(CancellationToken)"/>) starts a successor; and once the
    /// successor is ready, this host shuts down gracefully. Resolve <see cref="Upgrader"/> to share descriptors or
    /// read the generation.
    /// </summary>
    /// <param name="builder">The host builder (for ASP.NET Core, <c>WebApplicationBuilder.Host</c>).</param>
    /// <param name="configure">Sets at least <see cref="UpgradeOptions.SocketPath"/>.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The options are incomplete.</exception>
    public static IHostBuilder UseZeroDowntimeUpgrades(this IHostBuilder builder, Action<UpgradeOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        UpgradeOptions options = Configure(configure);
        return builder.ConfigureServices((_, services) => Register(services, options));
    }

    /// <summary>The same as <see cref="UseZeroDowntimeUpgrades(IHostBuilder, Action{UpgradeOptions})"/>, for <c>Host.CreateApplicationBuilder</c>.</summary>
    /// <param name="builder">The application builder.</param>
    /// <param name="configure">Sets at least <see cref="UpgradeOptions.SocketPath"/>.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The options are incomplete.</exception>
    public static IHostApplicationBuilder UseZeroDowntimeUpgrades(this IHostApplicationBuilder builder, Action<UpgradeOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        Register(builder.Services, Configure(configure));
        return builder;
    }

    private static UpgradeOptions Configure(Action<UpgradeOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var options = new UpgradeOptions();
        configure(options);
        options.Validate();
        return options;
    }

    private static void Register(IServiceCollection services, UpgradeOptions options)
    {
        services.AddSingleton(options);
        services.AddSingleton(provider => new Upgrader(options, provider.GetService<ILogger<Upgrader>>()));
        services.AddHostedService<UpgradeHostedService>();
    }
}
