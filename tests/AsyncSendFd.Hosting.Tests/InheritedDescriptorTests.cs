using System.Net.Sockets;
using AsyncSendFd.Hosting.Tests.Support;
using static AsyncSendFd.Hosting.Tests.Support.Timeouts;

namespace AsyncSendFd.Hosting.Tests;

/// <summary>
/// What a successor inherits: each descriptor nobody adopted is closed once it is ready, with a warning that names it;
/// a listener bound to a Unix socket path keeps its path through the hand-over and the retirement.
/// </summary>
public sealed class InheritedDescriptorTests
{
    [Fact]
    public async Task Ready_ClosesWhatNobodyAdopted_WarningByName()
    {
        await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady);
        using var dropped = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        dropped.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        dropped.Listen();
        string name = $"kestrel:{dropped.LocalEndPoint}"; // how Kestrel names a listener: by its address
        serving.Upgrader.Share(name, dropped.SafeHandle);

        var log = new ListLogger();
        Upgrader next = serving.NewSuccessor(log);
        await next.StartAsync();
        using Socket? adopted = next.TakeInheritedSocket("http");
        Assert.NotNull(adopted);
        Assert.Equal([name], next.InheritedNames);
        int before = Fds.Count();

        await next.ReadyAsync().WaitAsync(Guard);
        Assert.Empty(next.InheritedNames);
        Assert.Equal(before - 1, Fds.Count()); // the unadopted copy is closed
        string warning = Assert.Single(log.Lines, line => line.StartsWith("Warning:", StringComparison.Ordinal));
        Assert.Equal($"Warning: Inherited descriptor '{name}' was not adopted by this generation (no longer configured?); closing it", warning);
    }

    [Fact]
    public async Task AListenerBoundToAUnixPath_KeepsItsPath_ThroughHandOverAndRetirement()
    {
        await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady);
        string path = Path.Combine(serving.Directory, "app.sock");

        // Bound as Kestrel binds a ListenUnixSocket endpoint; shared with the next generation.
        var bound = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        bound.Bind(new UnixDomainSocketEndPoint(path));
        bound.Listen();
        serving.Upgrader.Share("unix", bound.SafeHandle);

        Upgrader next = serving.NewSuccessor();
        await next.StartAsync();
        using Socket adopted = next.TakeInheritedSocket("unix")!;
        await next.ReadyAsync().WaitAsync(Guard);
        await serving.Upgrader.Retired.WaitAsync(Guard);

        // The retired generation stops (the upgrader closes all it holds); nothing of the hosting package unlinks the path.
        await serving.Upgrader.DisposeAsync();
        Assert.True(File.Exists(path));
        Assert.True(File.Exists(serving.SocketPath)); // nor the control socket's, bound by this (the first) generation
        await AssertAcceptsThroughPathAsync(adopted, path);

        // Nor when the last generation stops for good: it removes its control socket, not the application's endpoints.
        await next.DisposeAsync();
        Assert.False(File.Exists(serving.SocketPath));
        Assert.True(File.Exists(path));
        await AssertAcceptsThroughPathAsync(adopted, path);

        // The runtime's part, for whoever closes the listeners: disposing the Socket that bound the path unlinks it
        // (so a retiring generation must not), disposing one adopted from a descriptor does not.
        adopted.Dispose();
        Assert.True(File.Exists(path));
        bound.Dispose();
        Assert.False(File.Exists(path));
    }

    private static async Task AssertAcceptsThroughPathAsync(Socket listener, string path)
    {
        using var guard = new CancellationTokenSource(Guard);
        using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await client.ConnectAsync(new UnixDomainSocketEndPoint(path), guard.Token);
        using Socket accepted = await listener.AcceptAsync(guard.Token);
        Assert.True(accepted.Connected);
    }
}
