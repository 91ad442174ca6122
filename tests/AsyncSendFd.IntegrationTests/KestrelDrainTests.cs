using System.Diagnostics;
using System.Net;
using System.Runtime.Versioning;
using AsyncSendFd.IntegrationTests.Support;
using KestrelUpgrade.Driver;
using Xunit.Abstractions;

namespace AsyncSendFd.IntegrationTests;

/// <summary>
/// How a retired generation drains (UpgradableListenerOptions.DrainWindow, 5 seconds by default in the sample):
/// every connection it accepted is answered, however late its first request comes within the window; HTTP/1.1
/// answers say <c>Connection: close</c>, HTTP/2 connections get GOAWAY; idle connections are closed only after the window.
/// </summary>
[Collection(KestrelUpgradeCollection.Name)]
public sealed class KestrelDrainTests(KestrelUpgradeFixture sample, ITestOutputHelper output)
{
    private static readonly TimeSpan DrainWindow = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    // Linux only: Signals.IsRunning reads /proc (KestrelUpgradeTests' remarks).
    [LinuxFact(KestrelUpgradeTests.Driver)]
    [SupportedOSPlatform("linux")]
    public async Task ConnectionsAcceptedBeforeTheHandOver_AreAnsweredByTheRetiringGeneration_AndIdleOnesClosedOnlyAfterTheWindow()
    {
        using UpgradingServer server = await UpgradingServer.StartAsync(sample.Binary, output);
        using var timeout = new CancellationTokenSource(Timeout);
        string first = $"generation 1 pid {server.Serving}";

        // Connections whose request has not come yet, and keep-alive connections idle after one answer.
        RawHttpConnection[] unread = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => RawHttpConnection.ConnectAsync(server.EndPoint, timeout.Token)));
        using var busy = await KeepAliveAsync(server.EndPoint, first, timeout.Token);
        using var idle = await KeepAliveAsync(server.EndPoint, first, timeout.Token);

        // Kestrel accepts in order: once a later connection is answered, every one before it was accepted by generation 1.
        Assert.Equal(first, await server.GetAsync());

        // Generation 1 retired (and began to drain) before its successor, told so, wrote the PID file.
        int successor = await server.BeginUpgradeAsync();
        var drained = Stopwatch.StartNew();
        Assert.Equal($"generation 2 pid {successor}", await server.GetAsync());

        // A second into the window: what generation 1 accepted is still its own, and each answer sends the client on.
        await Task.Delay(TimeSpan.FromSeconds(1));
        foreach (RawHttpConnection connection in unread.Append(busy))
        {
            RawHttpResponse response = await connection.GetAsync("/", close: false, timeout.Token);
            Assert.Equal((200, first, true), (response.StatusCode, response.Body, response.ConnectionClose));
            Assert.True(await connection.WaitForServerCloseAsync(timeout.Token), "the connection stayed open after Connection: close");
        }

        // The idle connection is closed only when the window is over.
        Assert.True(await idle.WaitForServerCloseAsync(timeout.Token), "the idle connection got bytes instead of being closed");
        Assert.InRange(drained.Elapsed, DrainWindow - TimeSpan.FromSeconds(1), DrainWindow + TimeSpan.FromSeconds(5));
        await server.FinishUpgradeAsync();
        Assert.Contains("Drain window (00:00:05) over with 1 connections open", server.Process.Output);

        foreach (RawHttpConnection connection in unread)
        {
            connection.Dispose();
        }

        await server.StopAsync();
    }

    // Linux only: Signals.IsRunning reads /proc (KestrelUpgradeTests' remarks).
    [LinuxFact(KestrelUpgradeTests.Driver)]
    [SupportedOSPlatform("linux")]
    public async Task Http2Connection_IsToldToGoAwayAtTheHandOver_AndItsRequestInFlightIsAnswered()
    {
        // Cleartext HTTP/2 with prior knowledge: the endpoints speak HTTP/2 only.
        using UpgradingServer server = await UpgradingServer.StartAsync(sample.Binary, output,
            environment: new Dictionary<string, string> { ["Kestrel__EndpointDefaults__Protocols"] = "Http2" });
        using var client = new HttpClient
        {
            BaseAddress = new Uri($"http://{server.EndPoint}/"),
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        string first = $"generation 1 pid {server.Serving}";
        Assert.Equal(first, await client.GetStringAsync("/"));

        Task<string> slow = client.GetStringAsync("/slow?ms=2000");
        await Task.Delay(TimeSpan.FromMilliseconds(300));
        int successor = await server.BeginUpgradeAsync();
        Assert.Equal(first, await slow);
        await server.FinishUpgradeAsync();

        // Told to go away at the hand-over, the client closed the connection once its stream was done: no window wait.
        string log = server.Process.Output;
        Assert.Contains("draining 1 open connections (1 HTTP/2 told to go away)", log);
        Assert.Contains("Drained: every connection closed", log);
        Assert.Equal($"generation 2 pid {successor}", await client.GetStringAsync("/"));
        await server.StopAsync();
    }

    private static async Task<RawHttpConnection> KeepAliveAsync(EndPoint server, string expected, CancellationToken cancellationToken)
    {
        RawHttpConnection connection = await RawHttpConnection.ConnectAsync(server, cancellationToken);
        RawHttpResponse response = await connection.GetAsync("/", close: false, cancellationToken);
        Assert.Equal((200, expected, false), (response.StatusCode, response.Body, response.ConnectionClose));
        return connection;
    }
}
