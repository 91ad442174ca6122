using System.Net.Sockets;
using System.Runtime.InteropServices;
using AsyncSendFd.Hosting.Internal;
using AsyncSendFd.Hosting.Protocol;
using AsyncSendFd.Native.Interop.Unix;
using Microsoft.Extensions.Logging;

namespace AsyncSendFd.Hosting.Serving;

/// <summary>
/// The serving generation's side of an upgrade, top to bottom: what starts one (SIGHUP, <see cref="UpgradeAsync"/>,
/// a successor connecting on its own), the one-at-a-time gate, the hand-over (hello, credential check, offer, ready,
/// commit) and retiring.
/// </summary>
internal sealed class ServingSide(UpgradeOptions options, ILogger logger)
{
    // A retired generation keeps its connection to the successor open until the process exits:
    // the successor's end of stream then means that no old code runs any more.
    private static readonly List<Socket> s_openUntilExit = [];

    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _upgradeSlot = new(1, 1);
    private readonly CancellationTokenSource _shutdown = new();
    private readonly TaskCompletionSource _retired = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private PosixSignalRegistration? _sighup;
    private Socket? _control;
    private Task _acceptLoop = Task.CompletedTask;
    private State _state;
    private int _generation;
    private Task _predecessorExited = Task.CompletedTask;
    private int _predecessorProcessId;
    private AwaitedChild? _awaited;

    private enum State
    {
        Starting,
        Serving,
        Retired,
        Stopped,
    }

    public SharedDescriptors Shared { get; } = new();

    public Task Retired => _retired.Task;

    public bool IsServing
    {
        get
        {
            lock (_lock)
            {
                return _state == State.Serving;
            }
        }
    }

    /// <summary>SIGHUP upgrades. Registered as the process starts: SIGHUP's default action would kill a process that is still starting.</summary>
    public void UpgradeOnSighup() =>
        _sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            context.Cancel = true;
            _ = Task.Run(() => UpgradeAsync("SIGHUP", CancellationToken.None));
        });

    /// <summary>Holds the control listener from the start: a generation that dies before it serves closes it.</summary>
    public void Hold(Socket controlListener) => _control = controlListener;

    /// <summary>Binds the control listener of a first generation.</summary>
    public static Socket BindControlListener(string path)
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

    /// <summary>
    /// This generation serves: the PID file names it, systemd hears <c>MAINPID=</c> and <c>READY=1</c>, and
    /// successors are accepted on the control socket (once the predecessor, if any, has exited).
    /// </summary>
    public async Task ServeAsync(int generation, Task predecessorExited, int predecessorProcessId)
    {
        _generation = generation;
        _predecessorExited = predecessorExited;
        _predecessorProcessId = predecessorProcessId;
        lock (_lock)
        {
            _state = _state == State.Starting ? State.Serving : throw new ObjectDisposedException(nameof(Upgrader));
        }

        if (options.PidFile is { } pidFile)
        {
            PidFile.Write(pidFile);
        }

        await SystemdNotifier.NotifyAsync(logger, $"MAINPID={Environment.ProcessId}\nREADY=1").ConfigureAwait(false);
        _acceptLoop = AcceptSuccessorsAsync(_control!);
        Log.Serving(logger, generation, Environment.ProcessId);
    }

    /// <summary>
    /// An upgrade this generation starts (a method call, SIGHUP): start the successor, wait for its connection,
    /// hand over, wait until it is ready. Failures are results; both outcomes are logged.
    /// </summary>
    public async Task<UpgradeResult> UpgradeAsync(string trigger, CancellationToken cancellationToken)
    {
        if (NotReadyForUpgrade() is { } refusal)
        {
            return Failed(refusal.Outcome, refusal.Reason);
        }

        if (!await _upgradeSlot.WaitAsync(0, cancellationToken).ConfigureAwait(false))
        {
            return Failed(UpgradeOutcome.AlreadyInProgress, "another upgrade is running");
        }

        try
        {
            Log.UpgradeRequested(logger, trigger);
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _shutdown.Token);
            deadline.CancelAfter(options.ReadyTimeout);
            (SuccessorChild? started, string? error) = SuccessorChild.Start(options);
            if (started is null)
            {
                return Failed(UpgradeOutcome.SuccessorDidNotStart, $"could not start the successor: {error}");
            }

            using SuccessorChild child = started;
            (ControlConnection Connection, UnixPeerCredentials Peer)? connected = await WaitForChildToConnectAsync(child, deadline.Token).ConfigureAwait(false);
            if (connected is not { } c)
            {
                return child.HasExited
                    ? Failed(UpgradeOutcome.SuccessorExited, $"the successor (pid {child.ProcessId}) exited with code {child.ExitCode} before connecting", child.ProcessId)
                    : Failed(CanceledOutcome(cancellationToken) ?? UpgradeOutcome.SuccessorDidNotConnect, $"the successor (pid {child.ProcessId}) did not connect within {options.ReadyTimeout}", child.Kill());
            }

            return await HandOverAsync(c.Connection, c.Peer, child, cancellationToken, deadline.Token).ConfigureAwait(false);
        }
        finally
        {
            _upgradeSlot.Release();
        }
    }

    /// <summary>Stops serving upgrades. Returns whether this generation stops for good (it served and did not retire).</summary>
    public async Task<bool> StopAsync()
    {
        bool forGood;
        lock (_lock)
        {
            forGood = _state == State.Serving;
            _state = _state == State.Retired ? State.Retired : State.Stopped;
        }

        _sighup?.Dispose();
        await _shutdown.CancelAsync().ConfigureAwait(false);
        await _acceptLoop.ConfigureAwait(false);
        _control?.Dispose();
        if (forGood)
        {
            File.Delete(options.SocketPath);
            if (options.PidFile is { } pidFile)
            {
                PidFile.DeleteIfOurs(pidFile);
            }
        }

        return forGood;
    }

    private (UpgradeOutcome Outcome, string Reason)? NotReadyForUpgrade()
    {
        lock (_lock)
        {
            if (_state != State.Serving)
            {
                return (UpgradeOutcome.NotServing, $"this generation is not serving ({_state.ToString().ToLowerInvariant()})");
            }
        }

        return _predecessorExited.IsCompleted
            ? null
            : (UpgradeOutcome.PreviousGenerationDraining, $"the previous generation (pid {_predecessorProcessId}) is still draining");
    }

    /// <summary>Which cancellation ended an upgrade early, if one did: the caller's, or this generation stopping.</summary>
    private UpgradeOutcome? CanceledOutcome(CancellationToken caller) =>
        caller.IsCancellationRequested ? UpgradeOutcome.Canceled : _shutdown.IsCancellationRequested ? UpgradeOutcome.Stopping : null;

    private async Task<(ControlConnection, UnixPeerCredentials)?> WaitForChildToConnectAsync(SuccessorChild child, CancellationToken deadline)
    {
        var awaited = new AwaitedChild(child.ProcessId);
        lock (_lock)
        {
            _awaited = awaited;
        }

        try
        {
            await Task.WhenAny(awaited.Connection.Task, child.WaitForExitAsync(deadline)).ConfigureAwait(false);
        }
        finally
        {
            lock (_lock)
            {
                _awaited = null;
            }
        }

        // Closes the door: a connection that arrives from now on is handled as any other.
        awaited.Connection.TrySetCanceled(CancellationToken.None);
        return awaited.Connection.Task.IsCompletedSuccessfully ? awaited.Connection.Task.Result : null;
    }

    private async Task AcceptSuccessorsAsync(Socket control)
    {
        while (true)
        {
            Socket connection;
            try
            {
                connection = await control.AcceptAsync(_shutdown.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                Log.ControlConnectionFailed(logger, e.Message);
                continue;
            }

            _ = HandleConnectionAsync(new ControlConnection(connection));
        }
    }

    /// <summary>
    /// A connection on the control socket, sorted by its first message: the child an upgrade waits for, a successor
    /// someone else started, or a client asking for an upgrade.
    /// </summary>
    private async Task HandleConnectionAsync(ControlConnection connection)
    {
        UnixPeerCredentials peer;
        try
        {
            peer = connection.Socket.GetPeerCredentials();
        }
        catch (SocketException)
        {
            connection.Dispose();
            return;
        }

        UpgradeWire.Greeting greeting;
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_shutdown.Token);
            deadline.CancelAfter(options.ReadyTimeout);

            // Read first even from a peer about to be refused (see ControlConnection.RefuseAsync).
            using FdMessage? first = await connection.ReceiveAsync(deadline.Token).ConfigureAwait(false);
            greeting = first is null ? UpgradeWire.Greeting.Unknown : UpgradeWire.ReadGreeting(first.Payload.Span);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or InvalidOperationException)
        {
            connection.Dispose();
            if (!_shutdown.IsCancellationRequested)
            {
                string what = e is OperationCanceledException ? $"said nothing within {options.ReadyTimeout}" : $"broke the first frame ({e.Message})";
                Failed(UpgradeOutcome.ProtocolViolation, $"pid {peer.ProcessId} did not speak the upgrade protocol: it {what}", peer.ProcessId);
            }

            return;
        }

        switch (greeting)
        {
            case UpgradeWire.Greeting.UpgradeRequest:
                await AnswerUpgradeRequestAsync(connection, peer).ConfigureAwait(false);
                return;
            case UpgradeWire.Greeting.Unknown:
                await connection.RefuseAsync("not an upgrade hello of this protocol version").ConfigureAwait(false);
                connection.Dispose();
                Failed(UpgradeOutcome.ProtocolViolation, $"pid {peer.ProcessId} did not speak the upgrade protocol", peer.ProcessId);
                return;
        }

        lock (_lock)
        {
            if (_awaited is { } awaited && awaited.ProcessId == peer.ProcessId && awaited.Connection.TrySetResult((connection, peer)))
            {
                return;
            }
        }

        // A successor someone else started (a supervisor, another unit): the same rules apply.
        string? notNow = NotReadyForUpgrade()?.Reason;
        if (notNow is not null || !await _upgradeSlot.WaitAsync(0).ConfigureAwait(false))
        {
            await connection.RefuseAsync(notNow ?? "another upgrade is running").ConfigureAwait(false);
            connection.Dispose();
            return;
        }

        try
        {
            Log.SuccessorConnected(logger, peer.ProcessId);
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_shutdown.Token);
            deadline.CancelAfter(options.ReadyTimeout);
            await HandOverAsync(connection, peer, child: null, CancellationToken.None, deadline.Token).ConfigureAwait(false);
        }
        finally
        {
            _upgradeSlot.Release();
        }
    }

    /// <summary>A client (a command-line tool) asks for an upgrade: allowed as a successor would be, answered with the result.</summary>
    private async Task AnswerUpgradeRequestAsync(ControlConnection connection, UnixPeerCredentials peer)
    {
        using (connection)
        {
            UpgradeResult result = IsAuthorized(peer)
                ? await UpgradeAsync($"requested by pid {peer.ProcessId}", CancellationToken.None).ConfigureAwait(false)
                : Failed(UpgradeOutcome.CredentialsRefused, $"pid {peer.ProcessId} (uid {peer.UserId}) may not request upgrades");
            await connection.TrySendAsync(UpgradeWire.EncodeResult(result)).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The hand-over to one connected successor, whose hello was read: credential check, offer, ready, commit,
    /// retire. Anything but a commit leaves this generation serving with all it had.
    /// </summary>
    private async Task<UpgradeResult> HandOverAsync(ControlConnection connection, UnixPeerCredentials peer, SuccessorChild? child, CancellationToken caller, CancellationToken deadline)
    {
        int successor = peer.ProcessId;
        bool retired = false;
        try
        {
            if (!IsAuthorized(peer))

            {
                Log.RefusedCredentials(logger, successor, peer.UserId, peer.GroupId);
                await connection.RefuseAsync($"uid {peer.UserId} may not take over from uid {LibC.getuid()}").ConfigureAwait(false);
                return Failed(UpgradeOutcome.CredentialsRefused, $"the successor (pid {successor}) runs as uid {peer.UserId}, which may not take over", child?.Kill() ?? successor);
            }

            (string[] names, SafeHandle[] handles) = Shared.Snapshot(_control!.SafeHandle);
            byte[] state = options.SaveState is { } save ? save().ToArray() : [];
            Log.HandingOver(logger, successor, peer.UserId, names.Length - 1, string.Join(", ", names.SkipLast(1)), state.Length);
            await connection.SendAsync(UpgradeWire.EncodeOffer(_generation + 1, Environment.ProcessId, names, state), handles, deadline).ConfigureAwait(false);

            using (FdMessage? ready = await connection.ReceiveAsync(deadline).ConfigureAwait(false))
            {
                if (ready is null)
                {
                    return Failed(UpgradeOutcome.SuccessorExited, $"the successor (pid {successor}) exited before it was ready{child?.ExitCodeText()}", successor);
                }

                if (ready.Payload.Length == 0 || ready.Payload.Span[0] != UpgradeWire.Ready)
                {
                    return Failed(UpgradeOutcome.ProtocolViolation, $"the successor (pid {successor}) broke the protocol before it was ready (no Ready message)", child?.Kill() ?? successor);
                }
            }

            // systemd first, while this process is still its main process; then the successor may speak to it.
            await SystemdNotifier.NotifyAsync(logger, $"MAINPID={successor}").ConfigureAwait(false);
            try
            {
                await connection.SendAsync(UpgradeWire.EncodeSignal(UpgradeWire.Commit), CancellationToken.None).ConfigureAwait(false);
            }
            catch (SocketException)
            {
                await SystemdNotifier.NotifyAsync(logger, $"MAINPID={Environment.ProcessId}").ConfigureAwait(false);
                return Failed(UpgradeOutcome.SuccessorExited, $"the successor (pid {successor}) exited at the commit{child?.ExitCodeText()}", successor);
            }

            retired = Retire(connection);
            Log.Retiring(logger, successor, _generation);
            return UpgradeResult.Success(successor);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            await connection.TrySendAsync(UpgradeWire.EncodeText(UpgradeWire.Abort, $"not ready within {options.ReadyTimeout}")).ConfigureAwait(false);
            return Failed(CanceledOutcome(caller) ?? UpgradeOutcome.NotReadyInTime, $"the successor (pid {successor}) was not ready within {options.ReadyTimeout}", child?.Kill() ?? successor);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            return Failed(UpgradeOutcome.HandOverFailed, $"the hand-over to pid {successor} broke: {e.Message}", child?.Kill() ?? successor);
        }
        finally
        {
            if (!retired)
            {
                connection.Dispose();
            }
        }
    }

    private bool IsAuthorized(UnixPeerCredentials peer) =>
        options.AuthorizeSuccessor is { } authorize ? authorize(peer) : peer.UserId == LibC.getuid() || options.AllowedUserIds.Contains(peer.UserId);

    private bool Retire(ControlConnection connection)
    {
        lock (_lock)
        {
            // Disposing a Socket that bound a path unlinks the path, which the successor now serves on;
            // so this generation's listener is never disposed: its descriptor closes when the process exits.
            s_openUntilExit.Add(connection.Socket);
            s_openUntilExit.Add(_control!);
            _control = null;
            if (_state == State.Serving)
            {
                _state = State.Retired;
            }
        }

        // Stops the accept loop.
        _shutdown.Cancel();
        _retired.TrySetResult();
        return true;
    }

    private UpgradeResult Failed(UpgradeOutcome outcome, string reason, int processId = 0)
    {
        Log.UpgradeFailed(logger, reason);
        return UpgradeResult.Failure(outcome, reason, processId);
    }

    /// <summary>An upgrade's own child, whose connection is expected on the control socket.</summary>
    private sealed class AwaitedChild(int processId)
    {
        public int ProcessId { get; } = processId;

        public TaskCompletionSource<(ControlConnection, UnixPeerCredentials)> Connection { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
