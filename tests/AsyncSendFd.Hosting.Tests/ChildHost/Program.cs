using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AsyncSendFd.Hosting.Tests.ChildHost;

/// <summary>
/// The test assembly doubles as a small upgradable service, so that tests can run whole generations as processes
/// (SIGHUP, SIGTERM, PID 1, the retired generation's forced exit):
/// <c>dotnet AsyncSendFd.Hosting.Tests.dll host --Upgrades:SocketPath=... [--Child:...]</c>. Everything is host
/// configuration: the upgrader reads its <c>Upgrades</c> section, this service its <c>Child</c> section.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Length == 0 || args[0] != "host")
        {
            await Console.Error.WriteLineAsync("usage: host --Upgrades:SocketPath=PATH [--Child:EndpointFile=PATH] [--Child:SlowIfExists=PATH] [--Child:HangOnStop=true]");
            return 2;
        }

        HostApplicationBuilder builder = Host.CreateApplicationBuilder(args[1..]);
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(console => console.SingleLine = true);
        builder.UseZeroDowntimeUpgrades();
        builder.Services.AddHostedService<SlowStart>();
        builder.Services.AddHostedService<LineService>();
        if (builder.Configuration.GetValue<bool>("Child:HangOnStop"))
        {
            builder.Services.AddHostedService<HangOnStop>();
        }

        await builder.Build().RunAsync();
        return Environment.ExitCode;
    }

    /// <summary>Answers each TCP connection with <c>generation G pid P</c> on the listener it inherited (or bound), shared as "line".</summary>
    private sealed class LineService(Upgrader upgrader, IConfiguration configuration) : IHostedService
    {
        private readonly CancellationTokenSource _stop = new();
        private Socket? _listener;

        public Task StartAsync(CancellationToken cancellationToken)
        {
            _listener = upgrader.TakeInheritedSocket("line") ?? Bind();
            upgrader.Share("line", _listener.SafeHandle);
            if (!upgrader.IsSuccessor && configuration["Child:EndpointFile"] is { } endpointFile)
            {
                File.WriteAllText(endpointFile, ((IPEndPoint)_listener.LocalEndPoint!).Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            Console.WriteLine($"child: generation {upgrader.Generation} pid {Environment.ProcessId} started");
            _ = AnswerAsync(_listener);
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken)
        {
            _stop.Cancel();
            _listener?.Dispose();
            Console.WriteLine($"child: generation {upgrader.Generation} pid {Environment.ProcessId} stopped");
            return Task.CompletedTask;
        }

        private static Socket Bind()
        {
            var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(16);
            return listener;
        }

        private async Task AnswerAsync(Socket listener)
        {
            try
            {
                while (true)
                {
                    using Socket client = await listener.AcceptAsync(_stop.Token);
                    await client.SendAsync(System.Text.Encoding.ASCII.GetBytes($"generation {upgrader.Generation} pid {Environment.ProcessId}\n"));
                }
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                // Stopped.
            }
        }
    }

    /// <summary>With <c>Child:SlowIfExists</c> naming a file that exists, a generation takes three seconds more to start (after taking over).</summary>
    private sealed class SlowStart(IConfiguration configuration) : IHostedLifecycleService
    {
        public async Task StartingAsync(CancellationToken cancellationToken)
        {
            if (configuration["Child:SlowIfExists"] is { } marker && File.Exists(marker))
            {
                Console.WriteLine($"child: pid {Environment.ProcessId} starts slowly");
                await Task.Delay(TimeSpan.FromSeconds(3), cancellationToken);
            }
        }

        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>A service that never finishes stopping: the retired generation must be killed.</summary>
    private sealed class HangOnStop : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken)
        {
            Console.WriteLine($"child: pid {Environment.ProcessId} hangs in StopAsync");
            return Task.Delay(Timeout.Infinite, CancellationToken.None);
        }
    }
}
