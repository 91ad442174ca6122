using System.Net;
using System.Net.Sockets;
using KestrelUpgrade.Driver;
using Xunit.Abstractions;

namespace AsyncSendFd.IntegrationTests;

/// <summary>
/// One KestrelUpgrade deployment in a fresh directory: the first generation, its PID file and broken-release
/// marker, and what an operator does to it (kill -HUP, kill -TERM). Remembers every generation's pid and the
/// time each upgrade took, and on disposal leaves no process behind, reparented successors included.
/// </summary>
internal sealed class UpgradingServer : IDisposable
{
    public static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(60);

    private readonly ITestOutputHelper _output;
    private readonly string _binary;
    private readonly List<UpgradeSpan> _upgrades = [];
    private UpgradeSpan? _retiring;
    private int _retiringProcessId;

    private UpgradingServer(string binary, ITestOutputHelper output, bool unixSocket, IReadOnlyDictionary<string, string>? environment)
    {
        _output = output;
        _binary = binary;
        // The control socket goes in here: a short path, for macOS's 104-byte sun_path.
        Directory = Command.CreateSocketDirectory("ku");
        PidFile = Path.Combine(Directory, "app.pid");
        Marker = Path.Combine(Directory, "broken-release");
        UnixSocket = Path.Combine(Directory, "web.sock");
        EndPoint = new IPEndPoint(IPAddress.Loopback, FreePort());
        string urls = $"http://{EndPoint}" + (unixSocket ? $";http://unix:{UnixSocket}" : "");
        Arguments = ["--urls", urls, "--pid-file", PidFile, "--fail-if-exists", Marker];
        Process = new ServerProcess(binary, Arguments, customize: start =>
        {
            foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
            {
                start.Environment[name] = value;
            }
        });
    }

    public string Directory { get; }

    public string PidFile { get; }

    public string Marker { get; }

    /// <summary>Where the sample puts its control socket: beside the PID file.</summary>
    public string ControlSocket => Path.Combine(Directory, "kestrelupgrade.sock");

    /// <summary>Where the sample listens: a loopback TCP port.</summary>
    public IPEndPoint EndPoint { get; }

    /// <summary>The Unix-domain-socket endpoint's file, when the server was started with one.</summary>
    public string UnixSocket { get; }

    public UnixDomainSocketEndPoint UnixEndPoint => new(UnixSocket);

    public string[] Arguments { get; }

    public ServerProcess Process { get; }

    public int Serving { get; private set; }

    public List<int> Generations { get; } = [];

    public IReadOnlyList<UpgradeSpan> Upgrades => _upgrades;

    /// <summary>Starts the first generation, listening on a loopback port and, if asked, on <see cref="UnixSocket"/> too.</summary>
    public static async Task<UpgradingServer> StartAsync(string binary, ITestOutputHelper output, bool unixSocket = false, IReadOnlyDictionary<string, string>? environment = null)
    {
        var server = new UpgradingServer(binary, output, unixSocket, environment);
        server.Serving = await ServerProcess.WaitForPidFileAsync(server.PidFile, notThis: 0, StepTimeout);
        server.Generations.Add(server.Serving);
        Assert.Equal(server.Process.Id, server.Serving);
        return server;
    }

    /// <summary>kill -HUP the PID file's process; returns once the PID file names the successor and the old process has exited.</summary>
    public async Task<int> UpgradeAsync()
    {
        int successor = await BeginUpgradeAsync();
        await FinishUpgradeAsync();
        return successor;
    }

    /// <summary>kill -HUP the PID file's process; returns once the PID file names the successor (the old one drains).</summary>
    public async Task<int> BeginUpgradeAsync()
    {
        int old = ServerProcess.ReadPidFile(PidFile) ?? throw new InvalidOperationException("No PID file.");
        Assert.Equal(Serving, old);
        int generation = Generations.Count;
        DateTime start = DateTime.UtcNow;
        Signals.Send(old, Signals.SIGHUP);
        Serving = await ServerProcess.WaitForPidFileAsync(PidFile, notThis: old, StepTimeout);
        _retiring = new UpgradeSpan(generation, start, DateTime.UtcNow, default);
        _retiringProcessId = old;
        Generations.Add(Serving);
        return Serving;
    }

    /// <summary>Waits until the generation that retired in <see cref="BeginUpgradeAsync"/> has exited.</summary>
    public async Task FinishUpgradeAsync()
    {
        UpgradeSpan retiring = _retiring ?? throw new InvalidOperationException("No upgrade begun.");
        await ServerProcess.WaitForExitAsync(_retiringProcessId, StepTimeout);
        _upgrades.Add(retiring with { End = DateTime.UtcNow });
        _retiring = null;
    }

    /// <summary>kill -HUP with a broken release in place; returns the log line that reports the failure.</summary>
    public async Task<string> RefusedUpgradeAsync()
    {
        File.WriteAllText(Marker, "broken\n");
        int from = Process.LineCount;
        DateTime start = DateTime.UtcNow;
        Signals.Send(Serving, Signals.SIGHUP);
        int line = await Process.WaitForLineAsync("Upgrade failed", from, StepTimeout);
        _upgrades.Add(new UpgradeSpan(Generations.Count, start, DateTime.UtcNow, DateTime.UtcNow, Refused: true));
        File.Delete(Marker);
        return Process.Output.Split('\n')[line];
    }

    /// <summary>
    /// Runs <c>KestrelUpgrade --upgrade</c> as an operator would, broken release or not; once it has exited, a
    /// successful upgrade's old generation has exited too.
    /// </summary>
    public async Task<(int ExitCode, string Output)> UpgradeCommandAsync(bool brokenRelease = false)
    {
        if (brokenRelease)
        {
            File.WriteAllText(Marker, "broken\n");
        }

        int old = Serving;
        DateTime start = DateTime.UtcNow;
        (int exitCode, string output) = await Task.Run(() => Command.Run(_binary, ["--upgrade", "--pid-file", PidFile], Directory, StepTimeout));
        DateTime tookEffect = DateTime.UtcNow;
        File.Delete(Marker);
        if (exitCode != 0)
        {
            _upgrades.Add(new UpgradeSpan(Generations.Count, start, tookEffect, tookEffect, Refused: true));
            return (exitCode, output);
        }

        Serving = ServerProcess.ReadPidFile(PidFile) ?? throw new InvalidOperationException("No PID file after the upgrade.");
        Generations.Add(Serving);
        await ServerProcess.WaitForExitAsync(old, StepTimeout);
        _upgrades.Add(new UpgradeSpan(Generations.Count - 1, start, tookEffect, DateTime.UtcNow));
        return (exitCode, output);
    }

    /// <summary>GET / on a new connection, by a client that does not retry; the answer's body.</summary>
    public async Task<string> GetAsync(EndPoint? at = null)
    {
        using var timeout = new CancellationTokenSource(HttpLoad.RequestTimeout);
        using RawHttpConnection connection = await RawHttpConnection.ConnectAsync(at ?? EndPoint, timeout.Token);
        RawHttpResponse response = await connection.GetAsync("/", close: true, timeout.Token);
        Assert.Equal(200, response.StatusCode);
        return response.Body;
    }

    /// <summary>kill -TERM the serving generation; returns once it and every process the deployment started have exited.</summary>
    public async Task StopAsync()
    {
        Signals.Send(Serving, Signals.SIGTERM);
        await ServerProcess.WaitForExitAsync(Serving, StepTimeout);
        if (!await Process.Lineage.WaitUntilNoneRunsAsync(StepTimeout))
        {
            throw new TimeoutException($"the serving generation exited, but processes it or an earlier generation started still run:\n{string.Join('\n', Process.Lineage.Running().Select(Lineage.Describe))}");
        }
    }

    /// <summary>Kills whatever still runs (reparented successors included) and logs what that was, with where each thread waited.</summary>
    public void Dispose()
    {
        Process.Dispose();
        _output.WriteLine(Process.Output);
        if (Process.KilledOnDispose.Length > 0)
        {
            _output.WriteLine("still running at the end, killed:\n" + Process.KilledOnDispose);
        }

        System.IO.Directory.Delete(Directory, recursive: true);
    }

    private static int FreePort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }
}
