using System.Net.Sockets;
using System.Runtime.InteropServices;
using AsyncSendFd.Hosting.Diagnostics;
using AsyncSendFd.Hosting.Internal;
using AsyncSendFd.Hosting.Protocol;
using AsyncSendFd.Hosting.Serving;
using AsyncSendFd.Hosting.Successor;
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
/// The successor connects to the control socket and presents a one-time token: the one this generation put in the
/// environment of the child it started, or, for a successor a supervisor or another unit started, the one in
/// <see cref="UpgradeOptions.TokenFile"/>. The kernel's credentials of the connecting process are checked too (same
/// user, <see cref="UpgradeOptions.AllowedUserIds"/>, or <see cref="UpgradeOptions.AuthorizeSuccessor"/>) before
/// anything is handed over. A stop (<see cref="DisposeAsync"/>, or the host stopping) wins over an upgrade that has
/// not committed, and a process that is PID 1 refuses upgrades (its retirement would end a container).
/// </para>
/// <para>
/// This type is the generation's life in order; the two roles it plays are its own types: the successor's side
/// (connect, adopt, say ready) while starting, the serving side (hand over, retire) once ready.
/// </para>
/// </remarks>
public sealed class Upgrader : IAsyncDisposable
{
    private readonly UpgradeOptions _options;
    private readonly ILogger _logger;
    private readonly SuccessorSide _successorSide;
    private readonly ServingSide _servingSide;
    private readonly Lock _lock = new();
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
        _successorSide = new SuccessorSide(options, _logger);
        _servingSide = new ServingSide(options, _logger);
    }

    private enum Stage
    {
        Created,
        Started,
        Ready,
        Disposed,
    }

    /// <summary>1 for the first process, one more for each successful upgrade. Known after <see cref="StartAsync"/>.</summary>
    public int Generation => _successorSide.Generation;

    /// <summary>Whether this process took over from a previous generation (rather than being the first).</summary>
    public bool IsSuccessor => Generation > 1;

    /// <summary>The opaque state the previous generation passed (<see cref="UpgradeOptions.SaveState"/>); empty for the first.</summary>
    public ReadOnlyMemory<byte> InheritedState => _successorSide.InheritedState;

    /// <summary>Whether this generation is the one serving (ready, not retired).</summary>
    public bool IsServing => _servingSide.IsServing;

    /// <summary>Completes when a successor has taken over: stop accepting work, finish what is in hand, and exit.</summary>
    public Task Retired => _servingSide.Retired;

    /// <summary>Completes when the previous generation's process has exited (at once for the first generation).</summary>
    public Task PreviousGenerationExited => _successorSide.PredecessorExited;

    /// <summary>
    /// Completes, with the reason, if the serving generation gave up on this successor before it was ready (it took
    /// longer than the ready timeout, broke the protocol, or the serving generation is stopping). The process should
    /// then exit.
    /// </summary>
    public Task<string> Abandoned => _successorSide.Abandoned;

    /// <summary>The names of the descriptors inherited and not yet taken.</summary>
    public IReadOnlyCollection<string> InheritedNames => _successorSide.Inherited.Names;

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
            _servingSide.UpgradeOnSighup();
        }

        Socket? handedOver = await _successorSide.TryTakeOverAsync(cancellationToken).ConfigureAwait(false);
        _servingSide.Hold(handedOver);
        if (handedOver is null)
        {
            Log.FirstGeneration(_logger, Generation, Environment.ProcessId, _options.SocketPath);
        }
    }

    /// <summary>
    /// Says this generation serves: a successor tells its predecessor and waits for the commit; then inherited
    /// descriptors nobody took are closed (each logged as a warning, by name), the PID file names this process,
    /// systemd hears <c>MAINPID=</c> and <c>READY=1</c>, and upgrades are accepted.
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

        if (_successorSide.TookOver)
        {
            await _successorSide.CommitAsync(cancellationToken).ConfigureAwait(false);
        }

        lock (_lock)
        {
            _stage = _stage == Stage.Started ? Stage.Ready : throw new ObjectDisposedException(nameof(Upgrader));
        }

        foreach (string name in _successorSide.Inherited.CloseRest())
        {
            Log.NotAdopted(_logger, name);
        }

        await _servingSide.ServeAsync(Generation, _successorSide.PredecessorExited, _successorSide.PredecessorProcessId).ConfigureAwait(false);
        UpgradeMetrics.StartedServing(this);
    }

    /// <summary>Takes an inherited descriptor: the caller owns it from now on.</summary>
    /// <param name="name">The name the previous generation shared it under.</param>
    /// <returns>The descriptor, or <see langword="null"/> when none of that name was inherited (or it was taken).</returns>
    public SafeFileHandle? TakeInherited(string name) => _successorSide.Inherited.Take(name);

    /// <summary>Takes an inherited socket (a listener, typically): the caller owns it from now on.</summary>
    /// <param name="name">The name the previous generation shared it under.</param>
    /// <returns>The socket, or <see langword="null"/> when none of that name was inherited (or it was taken).</returns>
    /// <exception cref="ArgumentException">The descriptor is not a socket (it is closed).</exception>
    public Socket? TakeInheritedSocket(string name) => TakeInherited(name)?.ToSocket();

    /// <summary>
    /// Hands <paramref name="handle"/> to the next generation under <paramref name="name"/> when an upgrade happens.
    /// The caller keeps ownership; a handle closed by then is left out.
    /// </summary>
    /// <param name="name">A unique label (up to 1 KiB of UTF-8); sharing a name again replaces the handle.</param>
    /// <param name="handle">A listener, a memfd, any descriptor.</param>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty, too long, or reserved.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="handle"/> is null.</exception>
    public void Share(string name, SafeHandle handle) => _servingSide.Shared.Share(name, handle);

    /// <summary>Stops handing the descriptor of that name to the next generation.</summary>
    /// <returns>Whether one was shared under that name.</returns>
    public bool Unshare(string name) => _servingSide.Shared.Unshare(name);

    /// <summary>
    /// Upgrades now: starts the successor (<see cref="UpgradeOptions.SuccessorStartInfo"/>, by default this program
    /// again), hands over when it connects, and waits until it is ready. On success this generation has retired
    /// (<see cref="Retired"/>); on failure nothing changed and the next upgrade can be tried. Both are logged.
    /// </summary>
    /// <param name="cancellationToken">Abandons the upgrade (the successor is stopped).</param>
    /// <returns>What happened; failures are results, not exceptions.</returns>
    public Task<UpgradeResult> UpgradeAsync(CancellationToken cancellationToken = default) => _servingSide.UpgradeAsync("method call", cancellationToken);

    /// <summary>
    /// Asks the generation serving on <paramref name="socketPath"/> for an upgrade and waits until it is over: what
    /// a command-line tool (an <c>ExecReload=</c> line, a deploy script) calls to learn whether the upgrade went
    /// through. The serving generation runs it as it runs <see cref="UpgradeAsync"/>, after checking this
    /// process's kernel credentials (<c>SO_PEERCRED</c>) as it checks a successor's.
    /// </summary>
    /// <param name="socketPath">The serving generation's <see cref="UpgradeOptions.SocketPath"/>.</param>
    /// <param name="cancellationToken">Stops waiting (the upgrade itself goes on).</param>
    /// <returns>The upgrade's result, as the serving generation's <see cref="UpgradeAsync"/> returned it.</returns>
    /// <exception cref="ArgumentException"><paramref name="socketPath"/> is null or empty.</exception>
    /// <exception cref="SocketException">Nothing serves on <paramref name="socketPath"/> (or it may not be reached).</exception>
    /// <exception cref="IOException">The serving generation hung up without a result, or answered in another protocol.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was canceled.</exception>
    public static Task<UpgradeResult> RequestUpgradeAsync(string socketPath, CancellationToken cancellationToken = default) =>
        UpgradeRequestClient.RequestAsync(socketPath, cancellationToken);

    /// <summary>The host began to stop: abandon an upgrade in flight now, while the server drains; <see cref="DisposeAsync"/> waits for it.</summary>
    internal void BeginStop() => _servingSide.BeginStop();

    /// <summary>
    /// Stops serving upgrades and closes what this generation holds. An upgrade that has not committed is abandoned:
    /// its successor is told to exit (and killed if it is this process's child and has not exited five seconds
    /// later). A generation that stops for good (not retired) also removes the control socket, the token file and a
    /// PID file that still names it.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        lock (_lock)
        {
            if (_stage == Stage.Disposed)
            {
                return;
            }

            _stage = Stage.Disposed;
        }

        await _servingSide.StopAsync().ConfigureAwait(false);

        // A successor that never became ready hangs up now, so its predecessor learns at once.
        _successorSide.Dispose();
    }
}
