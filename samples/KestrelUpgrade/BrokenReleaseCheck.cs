using AsyncSendFd.Hosting;
using Microsoft.Extensions.Hosting;

namespace KestrelUpgrade;

/// <summary>
/// Plays a broken release: a new generation that finds the marker file fails to start. It checks in
/// StartingAsync, after the take-over and before Kestrel starts accepting, as real start-up validation should.
/// </summary>
internal sealed class BrokenReleaseCheck(Upgrader upgrader, string marker) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken) =>
        upgrader.IsSuccessor && File.Exists(marker)
            ? throw new InvalidOperationException($"Broken release: {marker} exists.")
            : Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
