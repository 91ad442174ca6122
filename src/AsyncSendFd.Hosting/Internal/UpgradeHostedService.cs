using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AsyncSendFd.Hosting.Internal;

/// <summary>
/// Ties the <see cref="Upgrader"/> to the host's life: take over before any service starts (so Kestrel finds the
/// inherited listeners), ready when the application has started, graceful shutdown when retired.
/// </summary>
internal sealed class UpgradeHostedService(Upgrader upgrader, UpgradeOptions options, IHostApplicationLifetime lifetime, HostOptions host, ILogger<Upgrader> logger)
    : IHostedLifecycleService
{
    /// <summary>How long past the host's shutdown timeout a retired generation may run before it is killed, unless set.</summary>
    public static readonly TimeSpan ExitSlack = TimeSpan.FromSeconds(10);

    /// <summary><see cref="UpgradeOptions.RetiredExitDeadline"/>, or the host's shutdown timeout plus <see cref="ExitSlack"/>.</summary>
    public static TimeSpan RetiredExitDeadline(UpgradeOptions options, HostOptions host) => options.RetiredExitDeadline ?? host.ShutdownTimeout + ExitSlack;

    /// <summary>Runs before every service's StartAsync, so inherited descriptors are there before anything binds.</summary>
    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        await upgrader.StartAsync(cancellationToken).ConfigureAwait(false);
        lifetime.ApplicationStarted.Register(() => _ = ReadyAsync());
        _ = StopWhenAbandonedAsync();
        _ = StopWhenRetiredAsync();
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>The stop wins over an upgrade in flight: it is abandoned now, while the server drains.</summary>
    public Task StoppingAsync(CancellationToken cancellationToken)
    {
        upgrader.BeginStop();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>After the server has drained: a generation that stops for good removes its socket and PID file.</summary>
    public async Task StoppedAsync(CancellationToken cancellationToken) => await upgrader.DisposeAsync().ConfigureAwait(false);

    private async Task ReadyAsync()
    {
        try
        {
            await upgrader.ReadyAsync(lifetime.ApplicationStopping).ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidOperationException or OperationCanceledException or ObjectDisposedException)
        {
            // Abandoned or stopping before the commit: the previous generation serves on; this one leaves.
            Environment.ExitCode = 1;
            lifetime.StopApplication();
        }
    }

    private async Task StopWhenAbandonedAsync()
    {
        try
        {
            await upgrader.Abandoned.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        Environment.ExitCode = 1;
        lifetime.StopApplication();
    }

    private async Task StopWhenRetiredAsync()
    {
        await upgrader.Retired.ConfigureAwait(false);

        // Graceful shutdown has this long; after that no old code may keep running, hung or not.
        TimeSpan deadline = RetiredExitDeadline(options, host);
        Log.RetiredStopping(logger, deadline);
        lifetime.StopApplication();
        await Task.Delay(deadline).ConfigureAwait(false);
        Log.ForcedExit(logger, deadline);
        using var self = Process.GetCurrentProcess();
        self.Kill();
    }
}
