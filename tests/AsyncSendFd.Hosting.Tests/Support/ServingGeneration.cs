using System.Net;
using System.Net.Sockets;

namespace AsyncSendFd.Hosting.Tests.Support;

/// <summary>
/// A first generation serving in this process: its control socket in a fresh directory, a TCP listener shared as
/// "http" (the descriptor an upgrade must not take from it unless it succeeds), and a state payload. Successors made
/// by <see cref="NewSuccessor"/> take over on the same path, in this process, through the real protocol: they are not
/// its children, so they present the token file's token, as a supervisor-started successor would.
/// </summary>
internal sealed class ServingGeneration : IAsyncDisposable
{
    public static readonly byte[] State = "state of generation 1"u8.ToArray();

    private readonly List<Upgrader> _upgraders = [];

    private ServingGeneration(string directory, UpgradeOptions options)
    {
        Directory = directory;
        Options = options;
    }

    public string Directory { get; }

    public string SocketPath => Path.Combine(Directory, "upgrade.sock");

    public string PidPath => Path.Combine(Directory, "app.pid");

    public string TokenPath => Path.Combine(Directory, "upgrade.token");

    public UpgradeOptions Options { get; }

    public ListLogger Log { get; } = new();

    public Upgrader Upgrader { get; private set; } = null!;

    public Socket Listener { get; } = NewListener();

    /// <summary>How often <see cref="UpgradeOptions.SuccessorStartInfo"/> was asked for a process to start.</summary>
    public int SuccessorsStarted { get; set; }

    public static async Task<ServingGeneration> StartAsync(TimeSpan readyTimeout, Action<UpgradeOptions>? configure = null)
    {
        string directory = System.IO.Directory.CreateTempSubdirectory("asyncsendfd-hosting-").FullName;
        var options = new UpgradeOptions
        {
            SocketPath = Path.Combine(directory, "upgrade.sock"),
            ReadyTimeout = readyTimeout,
            UpgradeOnSighup = false,
            SaveState = () => State,
            TokenFile = Path.Combine(directory, "upgrade.token"),
        };
        var generation = new ServingGeneration(directory, options);
        options.SuccessorStartInfo = () =>
        {
            generation.SuccessorsStarted++;
            return new System.Diagnostics.ProcessStartInfo("/bin/false");
        };
        configure?.Invoke(options);
        generation.Upgrader = generation.Track(new Upgrader(options, generation.Log));
        await generation.Upgrader.StartAsync();
        Assert.Equal(1, generation.Upgrader.Generation);
        generation.Upgrader.Share("http", generation.Listener.SafeHandle);
        await generation.Upgrader.ReadyAsync();
        return generation;
    }

    /// <summary>A next generation on the same control socket, in this process, not started yet.</summary>
    public Upgrader NewSuccessor(ListLogger? log = null, string? pidFile = null) =>
        Track(new Upgrader(
            new UpgradeOptions { SocketPath = SocketPath, ReadyTimeout = Timeouts.AmpleReady, UpgradeOnSighup = false, PidFile = pidFile, TokenFile = TokenPath },
            log));

    /// <summary>The token a successor this generation did not start presents now (each is good for one attempt).</summary>
    public string FileToken() => File.ReadAllText(TokenPath);

    /// <summary>Serving, not retired, its listener still open and accepting, its control socket still there.</summary>
    public async Task AssertStillServesAsync()
    {
        Assert.True(Upgrader.IsServing);
        Assert.False(Upgrader.Retired.IsCompleted);
        Assert.False(Listener.SafeHandle.IsClosed);
        Assert.True(File.Exists(SocketPath));
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var guard = new CancellationTokenSource(Timeouts.Guard);
        await client.ConnectAsync(Listener.LocalEndPoint!, guard.Token);
        using Socket accepted = await Listener.AcceptAsync(guard.Token);
        Assert.True(accepted.Connected);
    }

    /// <summary>The next upgrade, by a successor in this process: takes over, gets the listener and state, serves; this generation retires.</summary>
    public async Task AssertNextUpgradeSucceedsAsync()
    {
        Upgrader next = NewSuccessor();
        await next.StartAsync();
        Assert.Equal(2, next.Generation);
        Assert.Equal(State, next.InheritedState.ToArray());
        using (Socket? listener = next.TakeInheritedSocket("http"))
        {
            Assert.NotNull(listener);
            Assert.Equal(Listener.LocalEndPoint, listener.LocalEndPoint);
        }

        await next.ReadyAsync().WaitAsync(Timeouts.Guard);
        await Upgrader.Retired.WaitAsync(Timeouts.Guard);
        Assert.False(Upgrader.IsServing);
        Assert.True(next.IsServing);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (Upgrader upgrader in Enumerable.Reverse(_upgraders))
        {
            await upgrader.DisposeAsync();
        }

        Listener.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }

    /// <summary>Disposed with this generation, newest first.</summary>
    public Upgrader Track(Upgrader upgrader)
    {
        _upgraders.Add(upgrader);
        return upgrader;
    }

    private static Socket NewListener()
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(16);
        return listener;
    }
}
