using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using AsyncSendFd.Hosting.Diagnostics;
using AsyncSendFd.Hosting.Internal;
using AsyncSendFd.Hosting.Protocol;
using AsyncSendFd.Systemd;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Hosting;

/// <summary>
/// Zero-downtime upgrades for one process: takes over from the generation serving on
/// <see cref="UpgradeOptions.SocketPath"/> when there is one, and hands this process's listeners, named
/// descriptors and state to the next generation when asked (SIGHUP or <see cref="UpgradeAsync"/>).
/// </summary>
/// <remarks>
/// <para>
/// The life of a generation: <see cref="StartAsync"/> (take over, or be the first), adopt what was inherited
/// (<see cref="TakeInherited"/>), <see cref="Share"/> what the next generation should get, <see cref="ReadyAsync"/>
/// once serving, and stop when <see cref="Retired"/> completes. Until a successor is ready, its predecessor keeps
/// serving; a successor that crashes, exits or is not ready within <see cref="UpgradeOptions.ReadyTimeout"/>
/// changes nothing, and the next upgrade can be tried. One upgrade runs at a time, and a new generation accepts
/// upgrades only once its predecessor has exited, so no old code runs after a successful upgrade.
/// </para>
/// <para>
/// The successor connects to the control socket, so it need not be this process's child: a supervisor, another
/// unit or a container sharing the socket's directory can start it. The kernel's credentials of the connecting
/// process are checked (same user, <see cref="UpgradeOptions.AllowedUserIds"/>, or
/// <see cref="UpgradeOptions.AuthorizeSuccessor"/>) before anything is handed over.
/// </para>
/// </remarks>
public sealed partial class Upgrader : IAsyncDisposable
{
    // A retired generation keeps its connection to the successor open until the process exits:
    // the successor's end of stream then means that no old code runs any more.
    private static readonly List<Socket> s_openUntilExit = [];

    private readonly UpgradeOptions _options;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, SafeFileHandle> _inherited = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SafeHandle> _shared = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _upgradeSlot = new(1, 1);
    private readonly CancellationTokenSource _shutdown = new();
    private readonly TaskCompletionSource _retired = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _previousExited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<string> _abandoned = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Socket? _control;
    private PosixSignalRegistration? _sighup;
    private Task _acceptLoop = Task.CompletedTask;
    private Stage _stage;

    /// <summary>Creates the upgrader; nothing happens until <see cref="StartAsync"/>.</summary>
    /// <param name="options">Where the control socket is, and the policies.</param>
    /// <param name="logger">Where the upgrader says what it does; none by default.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException">No <see cref="UpgradeOptions.SocketPath"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="UpgradeOptions.ReadyTimeout"/> is not positive.</exception>
    public Upgrader(UpgradeOptions options, ILogger<Upgrader>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _logger = logger ?? NullLogger<Upgrader>.Instance;
    }

    private enum Stage
    {
        Created,
        Started,
        Serving,
        Retired,
        Disposed,
    }

    /// <summary>1 for the first process, one more for each successful upgrade. Known after <see cref="StartAsync"/>.</summary>
    public int Generation { get; private set; }

    /// <summary>Whether this process took over from a previous generation (rather than being the first).</summary>
    public bool IsSuccessor => Generation > 1;

    /// <summary>The opaque state the previous generation passed (<see cref="UpgradeOptions.SaveState"/>); empty for the first.</summary>
    public ReadOnlyMemory<byte> InheritedState { get; private set; }

    /// <summary>Whether this generation is the one serving (ready, not retired).</summary>
    public bool IsServing
    {
        get
        {
            lock (_lock)
            {
                return _stage == Stage.Serving;
            }
        }
    }

    /// <summary>Completes when a successor has taken over: stop accepting work, finish what is in hand, and exit.</summary>
    public Task Retired => _retired.Task;

    /// <summary>Completes when the previous generation's process has exited (at once for the first generation).</summary>
    public Task PreviousGenerationExited => _previousExited.Task;

    /// <summary>
    /// Completes, with the reason, if the serving generation gave up on this successor before it was ready
    /// (it took longer than the ready timeout). The process should then exit: the old generation keeps serving.
    /// </summary>
    public Task<string> Abandoned => _abandoned.Task;

    /// <summary>The names of the descriptors inherited and not yet taken.</summary>
    public IReadOnlyCollection<string> InheritedNames
    {
        get
        {
            lock (_lock)
            {
                return [.. _inherited.Keys];
            }
        }
    }

    /// <summary>
    /// Takes over from the generation serving on the control socket, if one is: sends a hello, is checked, and
    /// receives the descriptors and state. Otherwise this is the first generation and binds the control socket.
    /// </summary>
    /// <param name="cancellationToken">Cancels the take-over.</param>
    /// <exception cref="InvalidOperationException">Started already; or the serving generation refused this process.</exception>
    /// <exception cref="IOException">The serving generation broke the protocol or hung up.</exception>
    /// <exception cref="SocketException">The control socket could not be reached or bound.</exception>
    /// <exception cref="TimeoutException">No offer within the ready timeout.</exception>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_stage == Stage.Disposed, this);
            _stage = _stage == Stage.Created ? Stage.Started : throw new InvalidOperationException("The upgrader was started already.");
        }

        if (_options.UpgradeOnSighup)
        {
            // Registered first: SIGHUP's default action would kill a process that is still starting.
            _sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, OnSighup);
        }

        Socket? parent = await TryConnectAsync(cancellationToken).ConfigureAwait(false);
        if (parent is null)
        {
            _control = BindControlSocket(_options.SocketPath);
            Generation = 1;
            _previousExited.TrySetResult();
            Log.FirstGeneration(_logger, Generation, Environment.ProcessId, _options.SocketPath);
            return;
        }

        await TakeOverAsync(parent, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Says this generation serves: a successor tells its predecessor and waits for the commit; then the PID file
    /// names this process, systemd hears <c>MAINPID=</c> and <c>READY=1</c>, inherited descriptors nobody took are
    /// closed, and upgrades are accepted.
    /// </summary>
    /// <param name="cancellationToken">Cancels waiting for the commit.</param>
    /// <exception cref="InvalidOperationException">Not started, ready already, or abandoned by the serving generation.</exception>
    public async Task ReadyAsync(CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_stage == Stage.Disposed, this);
            if (_stage != Stage.Started)
            {
                throw new InvalidOperationException("ReadyAsync needs a started upgrader that is not serving yet.");
            }
        }

        if (_parentChannel is not null)
        {
            await CommitWithPredecessorAsync(cancellationToken).ConfigureAwait(false);
        }

        lock (_lock)
        {
            _stage = _stage == Stage.Started ? Stage.Serving : throw new ObjectDisposedException(nameof(Upgrader));
            foreach (SafeFileHandle unused in _inherited.Values)
            {
                unused.Dispose();
            }

            _inherited.Clear();
        }

        if (_options.PidFile is { } pidFile)
        {
            PidFile.Write(pidFile);
        }

        await NotifySystemdAsync($"MAINPID={Environment.ProcessId}\nREADY=1").ConfigureAwait(false);
        _acceptLoop = AcceptSuccessorsAsync();
        Log.Serving(_logger, Generation, Environment.ProcessId);
        UpgradeMetrics.StartedServing(this);
    }

    /// <summary>Takes an inherited descriptor: the caller owns it from now on.</summary>
    /// <param name="name">The name the previous generation shared it under.</param>
    /// <returns>The descriptor, or <see langword="null"/> when none of that name was inherited (or it was taken).</returns>
    public SafeFileHandle? TakeInherited(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        lock (_lock)
        {
            return _inherited.Remove(name, out SafeFileHandle? handle) ? handle : null;
        }
    }

    /// <summary>Takes an inherited socket (a listener, typically): the caller owns it from now on.</summary>
    /// <param name="name">The name the previous generation shared it under.</param>
    /// <returns>The socket, or <see langword="null"/> when none of that name was inherited (or it was taken).</returns>
    /// <exception cref="SocketException">The descriptor is not a socket (it is closed).</exception>
    public Socket? TakeInheritedSocket(string name) => TakeInherited(name) is { } handle ? Handles.ToSocket(handle) : null;

    /// <summary>
    /// Hands <paramref name="handle"/> to the next generation under <paramref name="name"/> when an upgrade happens.
    /// The caller keeps ownership; a handle closed by then is left out.
    /// </summary>
    /// <param name="name">A unique label (up to 1 KiB of UTF-8); sharing a name again replaces the handle.</param>
    /// <param name="handle">A listener, a memfd, any descriptor.</param>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty, too long, or reserved.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="handle"/> is null.</exception>
    public void Share(string name, SafeHandle handle)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(handle);
        if (name == UpgradeWire.ControlSocketName || Encoding.UTF8.GetByteCount(name) > UpgradeWire.MaxNameBytes)
        {
            throw new ArgumentException($"'{name}' is reserved or longer than {UpgradeWire.MaxNameBytes} bytes.", nameof(name));
        }

        lock (_lock)
        {
            _shared[name] = handle;
        }
    }

    /// <summary>Stops handing the descriptor of that name to the next generation.</summary>
    /// <returns>Whether one was shared under that name.</returns>
    public bool Unshare(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        lock (_lock)
        {
            return _shared.Remove(name);
        }
    }

    /// <summary>
    /// Stops serving upgrades and closes what this generation holds. A generation that stops for good (not
    /// retired) also removes the control socket and a PID file that still names it.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        bool finalGeneration;
        lock (_lock)
        {
            if (_stage == Stage.Disposed)
            {
                return;
            }

            finalGeneration = _stage == Stage.Serving;
            _stage = Stage.Disposed;
        }

        _sighup?.Dispose();
        await _shutdown.CancelAsync().ConfigureAwait(false);
        await _acceptLoop.ConfigureAwait(false);
        _control?.Dispose();
        if (finalGeneration)
        {
            File.Delete(_options.SocketPath);
            if (_options.PidFile is { } pidFile)
            {
                PidFile.DeleteIfOurs(pidFile);
            }
        }

        // A successor that never became ready hangs up now, so its predecessor learns at once.
        _parent?.Dispose();
        lock (_lock)
        {
            foreach (SafeFileHandle handle in _inherited.Values)
            {
                handle.Dispose();
            }

            _inherited.Clear();
        }

        _abandoned.TrySetCanceled();
    }

    private static Socket BindControlSocket(string path)
    {
        // Only reached when nothing listens there: a file left by a generation that died is stale.
        File.Delete(path);
        var control = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            control.Bind(new UnixDomainSocketEndPoint(path));
            control.Listen(16);
            return control;
        }
        catch
        {
            control.Dispose();
            throw;
        }
    }

    private async Task NotifySystemdAsync(string state)
    {
        try
        {
            await SystemdNotify.NotifyAsync(state).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or NotSupportedException or IOException)
        {
            Log.NotifyFailed(_logger, e.Message);
        }
    }
}
