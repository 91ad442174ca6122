using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace AsyncSendFd.Hosting.AspNetCore.Internal;

/// <summary>
/// Starts the drain the moment this generation retires, and holds the host's stop (before Kestrel's own graceful
/// shutdown) until the connections have closed or the drain window is over.
/// </summary>
internal sealed class DrainHostedService(Upgrader upgrader, ConnectionDrain drain, IOptions<UpgradableListenerOptions> options) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken)
    {
        _ = DrainWhenRetiredAsync();
        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>A retired generation drains; one that stops for good goes straight to Kestrel's graceful shutdown.</summary>
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        // Noted before anything stops, the upgrader included.
        drain.StoppingWhileServing = upgrader.IsServing;
        if (upgrader.Retired.IsCompleted)
        {
            drain.BeginDrain();
            await drain.WaitAsync(options.Value.DrainWindow, cancellationToken).ConfigureAwait(false);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private async Task DrainWhenRetiredAsync()
    {
        await upgrader.Retired.ConfigureAwait(false);
        drain.BeginDrain();
    }
}
