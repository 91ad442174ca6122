using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace AsyncSendFd.Hosting.Tests;

/// <summary>
/// <c>UseZeroDowntimeUpgrades</c> reads the <c>Upgrades</c> configuration section (bound by hand, no reflection), then
/// lets code override it; bad values and missing calls are named in the exception.
/// </summary>
public sealed class ConfigurationTests
{
    private static readonly Dictionary<string, string?> Section = new()
    {
        ["Upgrades:SocketPath"] = "/run/app/upgrade.sock",
        ["Upgrades:PidFile"] = "/run/app/app.pid",
        ["Upgrades:TokenFile"] = "/run/app/upgrade.token",
        ["Upgrades:ReadyTimeout"] = "00:00:05",
        ["Upgrades:RetiredExitDeadline"] = "00:01:30",
        ["Upgrades:UpgradeOnSighup"] = "false",
        ["Upgrades:AllowedUserIds:0"] = "1001",
        ["Upgrades:AllowedUserIds:1"] = "1002",
    };

    [Fact]
    public void HostApplicationBuilder_ReadsTheUpgradesSection()
    {
        UpgradeOptions options = Build(Section, configure: null);
        Assert.Equal("/run/app/upgrade.sock", options.SocketPath);
        Assert.Equal("/run/app/app.pid", options.PidFile);
        Assert.Equal("/run/app/upgrade.token", options.TokenFile);
        Assert.Equal(TimeSpan.FromSeconds(5), options.ReadyTimeout);
        Assert.Equal(TimeSpan.FromSeconds(90), options.RetiredExitDeadline);
        Assert.False(options.UpgradeOnSighup);
        Assert.Equal([1001u, 1002u], options.AllowedUserIds.Order());
    }

    [Fact]
    public void Configure_RunsAfterTheSection_AndWins()
    {
        UpgradeOptions options = Build(Section, configure: o =>
        {
            Assert.Equal("/run/app/upgrade.sock", o.SocketPath); // the section's value is already there
            o.SocketPath = "/run/other/upgrade.sock";
            o.UpgradeOnSighup = true;
        });
        Assert.Equal("/run/other/upgrade.sock", options.SocketPath);
        Assert.True(options.UpgradeOnSighup);
        Assert.Equal(TimeSpan.FromSeconds(5), options.ReadyTimeout);
    }

    [Fact]
    public void WithoutTheSection_TheDefaultsStand()
    {
        UpgradeOptions options = Build(new() { ["Upgrades:SocketPath"] = "/run/app/upgrade.sock" }, configure: null);
        Assert.Equal(TimeSpan.FromMinutes(1), options.ReadyTimeout);
        Assert.Null(options.RetiredExitDeadline);
        Assert.True(options.UpgradeOnSighup);
        Assert.Null(options.PidFile);
        Assert.Null(options.TokenFile);
        Assert.Empty(options.AllowedUserIds);
    }

    [Fact]
    public void HostBuilder_ReadsTheUpgradesSectionToo()
    {
        using IHost host = new HostBuilder()
            .ConfigureAppConfiguration(configuration => configuration.AddInMemoryCollection(Section))
            .UseZeroDowntimeUpgrades()
            .Build();
        UpgradeOptions options = host.Services.GetRequiredService<UpgradeOptions>();
        Assert.Equal("/run/app/upgrade.sock", options.SocketPath);
        Assert.Equal(TimeSpan.FromSeconds(5), options.ReadyTimeout);
        Assert.Same(host.Services.GetRequiredService<Upgrader>(), host.Services.GetRequiredUpgrader());
    }

    [Theory]
    [InlineData("Upgrades:ReadyTimeout", "a minute", "TimeSpan")]
    [InlineData("Upgrades:UpgradeOnSighup", "yes", "Boolean")]
    [InlineData("Upgrades:AllowedUserIds:0", "-1", "UInt32")]
    public void AValueThatDoesNotParse_IsNamedWithItsPath(string key, string value, string type)
    {
        var section = new Dictionary<string, string?>(Section) { [key] = value };
        InvalidOperationException e = Assert.Throws<InvalidOperationException>(() => Build(section, configure: null));
        Assert.Equal($"Failed to convert configuration value '{value}' at '{key}' to type '{type}'.", e.Message);
    }

    [Fact]
    public void NoSocketPath_AnywhereIsAnError_ThatSaysWhereToSetIt()
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => Build(new(), configure: null));
        Assert.Contains("Upgrades:SocketPath", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void GetRequiredUpgrader_WithoutUseZeroDowntimeUpgrades_NamesTheCallToAdd()
    {
        using ServiceProvider services = new ServiceCollection().BuildServiceProvider();
        InvalidOperationException e = Assert.Throws<InvalidOperationException>(() => services.GetRequiredUpgrader());
        Assert.Contains("builder.UseZeroDowntimeUpgrades(...)", e.Message, StringComparison.Ordinal);
        Assert.Contains("builder.Host.UseZeroDowntimeUpgrades(...)", e.Message, StringComparison.Ordinal);
    }

    private static UpgradeOptions Build(Dictionary<string, string?> configuration, Action<UpgradeOptions>? configure)
    {
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(configuration);
        if (configure is null)
        {
            builder.UseZeroDowntimeUpgrades();
        }
        else
        {
            builder.UseZeroDowntimeUpgrades(configure);
        }

        using IHost host = builder.Build();
        return host.Services.GetRequiredService<UpgradeOptions>();
    }
}
