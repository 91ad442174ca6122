using System.Runtime.Versioning;
using AsyncSendFd.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace AsyncSendFd.IntegrationTests;

/// <summary>UseUpgradableListeners set up wrong: the host refuses to start, and the message says what to change.</summary>
[SupportedOSPlatform("linux")]
[SupportedOSPlatform("macos")]
public sealed class UpgradableListenerSetupTests : IDisposable
{
    private readonly string _directory = Command.CreateSocketDirectory("ul");

    [Fact]
    public async Task WithoutZeroDowntimeUpgrades_TheHostDoesNotStart_AndTheMessageNamesTheCallToAdd()
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0").UseUpgradableListeners();

        // WebApplication resolves Kestrel (and so the transport) as it is built; a generic host would as it starts.
        InvalidOperationException e = await Assert.ThrowsAsync<InvalidOperationException>(async () =>
        {
            await using WebApplication app = builder.Build();
            await app.StartAsync();
        });
        Assert.Contains("builder.Host.UseZeroDowntimeUpgrades(", e.Message);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(30)] // the host's default shutdown timeout: nothing would be left for requests in flight
    public async Task DrainWindow_NegativeOrNotShorterThanTheShutdownTimeout_FailsValidationAtStart(int seconds)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Host.UseZeroDowntimeUpgrades(upgrades => upgrades.SocketPath = Path.Combine(_directory, "upgrade.sock"));
        builder.WebHost.UseUrls("http://127.0.0.1:0").UseUpgradableListeners(drain => drain.DrainWindow = TimeSpan.FromSeconds(seconds));
        await using WebApplication app = builder.Build();

        OptionsValidationException e = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());
        Assert.Contains("DrainWindow", e.Message);
        Assert.False(File.Exists(Path.Combine(_directory, "upgrade.sock")), "the upgrader started although the options were invalid");
    }

    [Fact]
    public async Task UseUpgradableListeners_CalledTwice_SetsUpOneTransport_AndTheLastDrainWindowHolds()
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Host.UseZeroDowntimeUpgrades(upgrades => upgrades.SocketPath = Path.Combine(_directory, "upgrade.sock"));
        builder.WebHost.UseUrls("http://127.0.0.1:0")
            .UseUpgradableListeners(drain => drain.DrainWindow = TimeSpan.FromSeconds(1))
            .UseUpgradableListeners(drain => drain.DrainWindow = TimeSpan.FromSeconds(2));
        await using WebApplication app = builder.Build();

        Assert.Single(app.Services.GetServices<Microsoft.AspNetCore.Connections.IConnectionListenerFactory>(),
            factory => factory.GetType().Name == "UpgradableTransportFactory");
        Assert.Equal(TimeSpan.FromSeconds(2), app.Services.GetRequiredService<IOptions<UpgradableListenerOptions>>().Value.DrainWindow);
    }

    [Fact]
    public void UseUpgradableListeners_NullArguments_Throw()
    {
        Assert.Throws<ArgumentNullException>(() => UpgradableListenerExtensions.UseUpgradableListeners(null!));
        Assert.Throws<ArgumentNullException>(() => WebApplication.CreateSlimBuilder().WebHost.UseUpgradableListeners(null!));
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
