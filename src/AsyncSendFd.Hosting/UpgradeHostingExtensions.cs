using AsyncSendFd.Hosting.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AsyncSendFd.Hosting;

/// <summary>Zero-downtime upgrades for the .NET Generic Host (and so for ASP.NET Core).</summary>
public static class UpgradeHostingExtensions
{
    /// <summary>
    /// Makes this host upgradable in place: it takes over from the generation serving on the control socket, if
    /// any, before any hosted service starts; it is ready when <see cref="IHostApplicationLifetime.ApplicationStarted"/>
    /// fires; SIGHUP (or <see cref="Upgrader.UpgradeAsync(CancellationToken)"/>, or
    /// <see cref="Upgrader.RequestUpgradeAsync(string, CancellationToken)"/> from another process) starts a successor;
    /// and once the successor is ready, this host shuts down gracefully. Resolve <see cref="Upgrader"/> to share
    /// descriptors or read the generation.
    /// </summary>
    /// <remarks>
    /// The options are read from the configuration section <see cref="UpgradeOptions.ConfigurationSectionName"/>
    /// (<c>Upgrades:SocketPath</c>, <c>Upgrades:ReadyTimeout</c>, ...; from <c>appsettings.json</c>, environment
    /// variables such as <c>Upgrades__SocketPath</c>, or the command line), then <paramref name="configure"/> may
    /// change them.
    /// </remarks>
    /// <param name="builder">The host builder (for ASP.NET Core, <c>WebApplicationBuilder.Host</c>).</param>
    /// <param name="configure">Sets or overrides options after the configuration's; at least <see cref="UpgradeOptions.SocketPath"/> must be set by one of them.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The options are incomplete (thrown when the host is built).</exception>
    /// <exception cref="InvalidOperationException">A configuration value does not parse (thrown when the host is built).</exception>
    public static IHostBuilder UseZeroDowntimeUpgrades(this IHostBuilder builder, Action<UpgradeOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        return builder.ConfigureServices((context, services) => Register(services, Configure(context.Configuration, configure)));
    }

    /// <summary>
    /// The same as <see cref="UseZeroDowntimeUpgrades(IHostBuilder, Action{UpgradeOptions})"/> with the options from
    /// the configuration section <see cref="UpgradeOptions.ConfigurationSectionName"/> alone.
    /// </summary>
    /// <param name="builder">The host builder.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is null.</exception>
    /// <exception cref="ArgumentException">The configuration sets no <c>Upgrades:SocketPath</c> (thrown when the host is built).</exception>
    /// <exception cref="InvalidOperationException">A configuration value does not parse (thrown when the host is built).</exception>
    public static IHostBuilder UseZeroDowntimeUpgrades(this IHostBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.ConfigureServices((context, services) => Register(services, Configure(context.Configuration, null)));
    }

    /// <summary>The same as <see cref="UseZeroDowntimeUpgrades(IHostBuilder, Action{UpgradeOptions})"/>, for <c>Host.CreateApplicationBuilder</c> and <c>WebApplication.CreateBuilder</c>.</summary>
    /// <param name="builder">The application builder.</param>
    /// <param name="configure">Sets or overrides options after the configuration's; at least <see cref="UpgradeOptions.SocketPath"/> must be set by one of them.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The options are incomplete.</exception>
    /// <exception cref="InvalidOperationException">A configuration value does not parse.</exception>
    public static IHostApplicationBuilder UseZeroDowntimeUpgrades(this IHostApplicationBuilder builder, Action<UpgradeOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        Register(builder.Services, Configure(builder.Configuration, configure));
        return builder;
    }

    /// <summary>
    /// The same as <see cref="UseZeroDowntimeUpgrades(IHostApplicationBuilder, Action{UpgradeOptions})"/> with the
    /// options from the configuration section <see cref="UpgradeOptions.ConfigurationSectionName"/> alone.
    /// </summary>
    /// <param name="builder">The application builder.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is null.</exception>
    /// <exception cref="ArgumentException">The configuration sets no <c>Upgrades:SocketPath</c>.</exception>
    /// <exception cref="InvalidOperationException">A configuration value does not parse.</exception>
    public static IHostApplicationBuilder UseZeroDowntimeUpgrades(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        Register(builder.Services, Configure(builder.Configuration, null));
        return builder;
    }

    /// <summary>
    /// The <see cref="Upgrader"/> that <c>UseZeroDowntimeUpgrades</c> registered; for code that needs it (such as
    /// Kestrel's listeners) and should say what is missing when it was not registered.
    /// </summary>
    /// <param name="services">The host's services.</param>
    /// <returns>The upgrader.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is null.</exception>
    /// <exception cref="InvalidOperationException">No upgrader is registered: the message names the call to add.</exception>
    public static Upgrader GetRequiredUpgrader(this IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);
        return services.GetService<Upgrader>() ?? throw new InvalidOperationException(
            "Zero-downtime upgrades are not set up in this host: call builder.UseZeroDowntimeUpgrades(...) "
            + "(for a WebApplicationBuilder: builder.Host.UseZeroDowntimeUpgrades(...)) before the host is built.");
    }

    private static UpgradeOptions Configure(IConfiguration configuration, Action<UpgradeOptions>? configure)
    {
        var options = new UpgradeOptions();
        UpgradeOptionsBinder.Bind(configuration.GetSection(UpgradeOptions.ConfigurationSectionName), options);
        configure?.Invoke(options);
        options.Validate();
        return options;
    }

    private static void Register(IServiceCollection services, UpgradeOptions options)
    {
        services.AddSingleton(options);
        services.AddSingleton(provider => new Upgrader(options, provider.GetService<ILogger<Upgrader>>()));
        services.AddHostedService(provider => new UpgradeHostedService(
            provider.GetRequiredService<Upgrader>(),
            options,
            provider.GetRequiredService<IHostApplicationLifetime>(),
            provider.GetRequiredService<IOptions<HostOptions>>().Value,
            provider.GetRequiredService<ILogger<Upgrader>>()));
    }
}
