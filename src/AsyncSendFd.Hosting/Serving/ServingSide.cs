using System.Net.Sockets;
using System.Runtime.InteropServices;
using AsyncSendFd.Hosting.Diagnostics;
using AsyncSendFd.Hosting.Internal;
using AsyncSendFd.Hosting.Protocol;
using AsyncSendFd.Native.Interop.Unix;
using Microsoft.Extensions.Logging;

namespace AsyncSendFd.Hosting.Serving;

/// <summary>
/// The serving generation's side of an upgrade, top to bottom: what starts one (SIGHUP, <see cref="UpgradeAsync"/>,
/// a client's request, a successor connecting on its own), the one-at-a-time gate, the hand-over (credential check,
/// offer, ready, commit), retiring, and stopping (which wins over an upgrade that has not committed).
/// </summary>
internal sealed class ServingSide(UpgradeOptions options, ILogger logger)
{
    /// <summary>How long a successor this generation started has to exit once told to (Abort, Refused), before it is killed.</summary>
    public static readonly TimeSpan AbandonedChildGrace = TimeSpan.FromSeconds(5);

    private const string RunningAsPid1Reason =
        "this process is PID 1 (a container's main process): once it retired, the container would stop and take its successor with it; "
        + "run it under a supervisor that outlives generations (see the README's section on containers)";

    // A retired generation keeps its connection to the successor open until the process exits:
    // the successor's end of stream then means that no old code runs any more.
    private static readonly List<Socket> s_openUntilExit = [];

    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _upgradeSlot = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _retired = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Admission _admission = new(options);
    private PosixSignalRegistration? _sighup;
    private ControlListener? _control;
    private Task _acceptLoop = Task.CompletedTask;
    private State _state;
    private bool _stopRequested;
    private int _generation;
    private Task _predecessorExited = Task.CompletedTask;
    private int _predecessorProcessId;
    private TaskCompletionSource<(ControlConnection, UnixPeerCredentials)>? _awaitedChild;

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

    /// <summary>Holds the control listener from the start (handed over, or bound): a generation that dies before it serves closes it.</summary>
    public void Hold(Socket? handedOver) =>
        _control = handedOver is null ? ControlListener.Bind(options.SocketPath, logger) : new ControlListener(handedOver, logger);

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
            _state = _state == State.Starting && !_stopRequested ? State.Serving : throw new ObjectDisposedException(nameof(Upgrader));
        }

        if (options.PidFile is { } pidFile)
        {
            PidFile.Write(pidFile);
        }

        string serving = generation == 1 ? $"Generation 1 (pid {Environment.ProcessId}) serving" : $"Upgraded: generation {generation} (pid {Environment.ProcessId}) serving";
        await SystemdNotifier.NotifyAsync(logger, $"MAINPID={Environment.ProcessId}\nREADY=1\n{SystemdNotifier.Status(serving)}").ConfigureAwait(false);
        _admission.PublishFileToken();
        _acceptLoop = _control!.AcceptAsync(options.ReadyTimeout, OnGreetedAsync, OnSilent, _stop.Token);
        Log.Serving(logger, generation, Environment.ProcessId);
        if (Environment.ProcessId == 1)
        {
            Log.UpgradesRefusedAsPid1(logger, RunningAsPid1Reason);
        }
    }

    /// <summary>
    /// An upgrade this generation starts (a method call, SIGHUP, a client's request): start the successor, wait for
    /// its connection, hand over, wait until it is ready. Failures are results; both outcomes are logged, and told
    /// to systemd (<c>RELOADING=1</c>, then <c>READY=1</c> with the outcome; the successor says it on success).
    /// </summary>
    public Task<UpgradeResult> UpgradeAsync(string trigger, CancellationToken cancellationToken) => UpgradeMetrics.TimeAsync(() => RunUpgradeAsync(trigger, cancellationToken));

    private async Task<UpgradeResult> RunUpgradeAsync(string trigger, CancellationToken cancellationToken)
    {
        if (NotReadyForUpgrade() is { } refusal)
        {
            await SystemdNotifier.NotifyAsync(logger, SystemdNotifier.Reloading()).ConfigureAwait(false);
            return await ReportAsync(Failed(refusal.Outcome, refusal.Reason)).ConfigureAwait(false);
        }

        // Not told to systemd: the upgrade that runs will report.
        if (!await _upgradeSlot.WaitAsync(0, CancellationToken.None).ConfigureAwait(false))
        {
            return Failed(UpgradeOutcome.AlreadyInProgress, "another upgrade is running");
        }

        try
        {
            await SystemdNotifier.NotifyAsync(logger, SystemdNotifier.Reloading()).ConfigureAwait(false);
            return await ReportAsync(await StartSuccessorAndHandOverAsync(trigger, cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);
        }
        finally
        {
            _upgradeSlot.Release();
        }
    }

    private async Task<UpgradeResult> StartSuccessorAndHandOverAsync(string trigger, CancellationToken cancellationToken)
    {
        Log.UpgradeRequested(logger, trigger);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stop.Token);
        deadline.CancelAfter(options.ReadyTimeout);
        (SuccessorChild? started, string? error) = SuccessorChild.Start(options, _admission.IssueChildToken());
        if (started is null)
        {
            _admission.RevokeChildToken();
            return Failed(UpgradeOutcome.SuccessorDidNotStart, $"could not start the successor: {error}");
        }

        using SuccessorChild child = started;
        if (await WaitForChildToConnectAsync(child, deadline.Token).ConfigureAwait(false) is ({ } connection, { } peer))
        {
            if (!_admission.MayTakeOver(peer))
            {
                Log.RefusedCredentials(logger, peer.ProcessId, peer.UserId, peer.GroupId);
                await RefuseAsync(connection, CredentialsRefusal(peer)).ConfigureAwait(false);
                return Failed(UpgradeOutcome.CredentialsRefused, $"the successor (pid {peer.ProcessId}) runs as uid {peer.UserId}, which may not take over; {await EndAsync(child)}", peer.ProcessId);
            }

            return await HandOverAsync(connection, peer, child, cancellationToken, deadline.Token).ConfigureAwait(false);
        }

        if (child.HasExited)
        {
            return Failed(UpgradeOutcome.SuccessorExited, $"the successor (pid {child.ProcessId}) exited with code {child.ExitCode} before connecting", child.ProcessId);
        }

        // Not connected, so it holds nothing and cannot be told: killed at once.
        int pid = child.Kill();
        return AbandonedOutcome(cancellationToken) switch
        {
            UpgradeOutcome.Stopping => Failed(UpgradeOutcome.Stopping, $"this generation is stopping: the successor (pid {pid}) had not connected yet and was killed", pid),
            UpgradeOutcome.Canceled => Failed(UpgradeOutcome.Canceled, $"the upgrade was canceled before the successor (pid {pid}) connected; it was killed", pid),
            _ => Failed(UpgradeOutcome.SuccessorDidNotConnect, $"the successor (pid {pid}) did not connect within {options.ReadyTimeout}; it was killed", pid),
        };
    }

    /// <summary>The child's connection (its hello, with the child's token, read), or null if it exited or the deadline passed first.</summary>
    private async Task<(ControlConnection Connection, UnixPeerCredentials Peer)?> WaitForChildToConnectAsync(SuccessorChild child, CancellationToken deadline)
    {
        var awaited = new TaskCompletionSource<(ControlConnection, UnixPeerCredentials)>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            _awaitedChild = awaited;
        }

        try
        {
            await Task.WhenAny(awaited.Task, child.WaitForExitAsync(deadline)).ConfigureAwait(false);
        }
        finally
        {
            lock (_lock)
            {
                _awaitedChild = null;
                _admission.RevokeChildToken();
            }
        }

        // Closes the door: the child's token is void, so a connection presenting it from now on is refused.
        awaited.TrySetCanceled(CancellationToken.None);
        return awaited.Task.IsCompletedSuccessfully ? awaited.Task.Result : null;
    }

    /// <summary>
    /// A connection that said what it is: the child an upgrade waits for, a successor someone else started (with the
    /// token file's token), or a client asking for an upgrade.
    /// </summary>
    private async Task OnGreetedAsync(ControlConnection connection, UnixPeerCredentials peer, UpgradeWire.Greeting greeting, string token)
    {
        if (greeting == UpgradeWire.Greeting.UpgradeRequest)
        {
            await AnswerUpgradeRequestAsync(connection, peer).ConfigureAwait(false);
            return;
        }

        if (greeting != UpgradeWire.Greeting.Hello)
        {
            await RefuseAsync(connection, "not an upgrade hello of this protocol version").ConfigureAwait(false);
            Failed(UpgradeOutcome.ProtocolViolation, $"pid {peer.ProcessId} did not speak the upgrade protocol", peer.ProcessId);
            return;
        }

        lock (_lock)
        {
            if (_awaitedChild is { } awaited && _admission.IsChildToken(token) && awaited.TrySetResult((connection, peer)))
            {
                return;
            }
        }

        // Not this generation's child: timed from its hello, as an upgrade this generation starts is from its request.
        await UpgradeMetrics.TimeAsync(() => AdmitAndHandOverAsync(connection, peer, token)).ConfigureAwait(false);
    }

    /// <summary>A successor someone else started: the kernel's word on who it is comes first, then its token.</summary>
    private async Task<UpgradeResult> AdmitAndHandOverAsync(ControlConnection connection, UnixPeerCredentials peer, string token)
    {
        if (!_admission.MayTakeOver(peer))
        {
            Log.RefusedCredentials(logger, peer.ProcessId, peer.UserId, peer.GroupId);
            await RefuseAsync(connection, CredentialsRefusal(peer)).ConfigureAwait(false);
            return Failed(UpgradeOutcome.CredentialsRefused, $"pid {peer.ProcessId} runs as uid {peer.UserId}, which may not take over", peer.ProcessId);
        }

        if (!_admission.RedeemFileToken(token))
        {
            await RefuseAsync(connection, "no valid upgrade token: only a successor this generation started (or gave the token file's token) may take over").ConfigureAwait(false);
            return Failed(UpgradeOutcome.TokenRefused, $"pid {peer.ProcessId} presented no valid upgrade token: this generation did not start it", peer.ProcessId);
        }

        (UpgradeOutcome Outcome, string Reason)? notNow = NotReadyForUpgrade();
        if (notNow is not null || !await _upgradeSlot.WaitAsync(0).ConfigureAwait(false))
        {
            // Not logged as a failure: this generation's own upgrade, if one runs, reports.
            (UpgradeOutcome outcome, string reason) = notNow ?? (UpgradeOutcome.AlreadyInProgress, "another upgrade is running");
            UpgradeMetrics.Ended(outcome);
            await RefuseAsync(connection, reason).ConfigureAwait(false);
            return UpgradeResult.Failure(outcome, reason, peer.ProcessId);
        }

        try
        {
            Log.SuccessorConnected(logger, peer.ProcessId);
            await SystemdNotifier.NotifyAsync(logger, SystemdNotifier.Reloading()).ConfigureAwait(false);
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            deadline.CancelAfter(options.ReadyTimeout);
            return await ReportAsync(await HandOverAsync(connection, peer, child: null, CancellationToken.None, deadline.Token).ConfigureAwait(false)).ConfigureAwait(false);
        }
        finally
        {
            _upgradeSlot.Release();
        }
    }

    private void OnSilent(UnixPeerCredentials peer, string what) =>
        Failed(UpgradeOutcome.ProtocolViolation, $"pid {peer.ProcessId} did not speak the upgrade protocol: it {what}", peer.ProcessId);

    /// <summary>A client (a command-line tool) asks for an upgrade: allowed as a successor would be, answered with the result.</summary>
    private async Task AnswerUpgradeRequestAsync(ControlConnection connection, UnixPeerCredentials peer)
    {
        using (connection)
        {
            UpgradeResult result = _admission.MayTakeOver(peer)
                ? await UpgradeAsync($"requested by pid {peer.ProcessId}", CancellationToken.None).ConfigureAwait(false)
                : Failed(UpgradeOutcome.CredentialsRefused, $"pid {peer.ProcessId} (uid {peer.UserId}) may not request upgrades");
            await connection.TrySendAsync(UpgradeWire.EncodeResult(result)).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The hand-over to one admitted successor (its hello read, its token and credentials checked): offer, ready,
    /// commit, retire. Anything but a commit leaves this generation serving with all it had, and the successor told to go.
    /// </summary>
    private async Task<UpgradeResult> HandOverAsync(ControlConnection connection, UnixPeerCredentials peer, SuccessorChild? child, CancellationToken caller, CancellationToken deadline)
    {
        int successor = peer.ProcessId;
        bool retired = false;
        try
        {
            (string[] names, SafeHandle[] handles) = Shared.Snapshot(_control!.Socket.SafeHandle);
            byte[] state = options.SaveState is { } save ? save().ToArray() : [];
            Log.HandingOver(logger, successor, peer.UserId, names.Length - 1, string.Join(", ", names.SkipLast(1)), state.Length);
            await connection.SendAsync(UpgradeWire.EncodeOffer(_generation + 1, Environment.ProcessId, names, state), handles, deadline).ConfigureAwait(false);
            UpgradeMetrics.HandedOver(handles.Length);

            using (FdMessage? ready = await connection.ReceiveOrGiveUpAsync(deadline).ConfigureAwait(false))
            {
                if (ready is null)
                {
                    return Failed(UpgradeOutcome.SuccessorExited, $"the successor (pid {successor}) exited before it was ready{child?.ExitCodeText()}", successor);
                }

                if (ready.Payload.Length == 0 || ready.Payload.Span[0] != UpgradeWire.Ready)
                {
                    await connection.TrySendAsync(UpgradeWire.EncodeText(UpgradeWire.Abort, "expected Ready")).ConfigureAwait(false);
                    return Failed(UpgradeOutcome.ProtocolViolation, $"the successor (pid {successor}) broke the protocol before it was ready (no Ready message); it was told to exit; {await EndAsync(child)}", successor);
                }
            }

            if (!MayCommit())
            {
                throw new OperationCanceledException(deadline);
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
            UpgradeMetrics.Ended(UpgradeOutcome.Succeeded);
            return UpgradeResult.Success(successor);
        }
        catch (OperationCanceledException)
        {
            UpgradeOutcome outcome = AbandonedOutcome(caller);
            (string toldIt, string why) = outcome switch
            {
                UpgradeOutcome.Stopping => ("the serving generation is stopping", "this generation is stopping, so the upgrade was abandoned"),
                UpgradeOutcome.Canceled => ("the upgrade was canceled", "the upgrade was canceled"),
                _ => ($"not ready within {options.ReadyTimeout}", $"the successor (pid {successor}) was not ready within {options.ReadyTimeout}"),
            };
            await connection.TrySendAsync(UpgradeWire.EncodeText(UpgradeWire.Abort, toldIt)).ConfigureAwait(false);
            return Failed(outcome, $"{why}: the successor (pid {successor}) was told to exit; {await EndAsync(child)}", successor);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or InvalidOperationException)
        {
            await connection.TrySendAsync(UpgradeWire.EncodeText(UpgradeWire.Abort, "the hand-over broke")).ConfigureAwait(false);
            return Failed(UpgradeOutcome.HandOverFailed, $"the hand-over to pid {successor} broke ({e.Message}); {await EndAsync(child)}", successor);
        }
        finally
        {
            if (!retired)
            {
                connection.Dispose();
            }
        }
    }

    /// <summary>The commit point: past it, a stop no longer abandons the upgrade (the successor is ready and will serve).</summary>
    private bool MayCommit()
    {
        lock (_lock)
        {
            return !_stopRequested;
        }
    }

    private bool Retire(ControlConnection connection)
    {
        lock (_lock)
        {
            // Disposing a Socket that bound a path unlinks the path, which the successor now serves on;
            // so this generation's listener is never disposed: its descriptor closes when the process exits.
            s_openUntilExit.Add(connection.Socket);
            s_openUntilExit.Add(_control!.Socket);
            _control = null;
            _state = State.Retired;
        }

        // Stops the accept loop.
        _stop.Cancel();
        _retired.TrySetResult();
        return true;
    }

    /// <summary>A successor that was told to go: this generation's child is given a grace to exit, then killed.</summary>
    private static async Task<string> EndAsync(SuccessorChild? child) =>
        child is null ? "it is not this generation's child" : await child.EndAsync(AbandonedChildGrace).ConfigureAwait(false);

    private static string CredentialsRefusal(UnixPeerCredentials peer) => $"uid {peer.UserId} may not take over from uid {LibC.getuid()}";

    private static async Task RefuseAsync(ControlConnection connection, string reason)
    {
        await connection.RefuseAsync(reason).ConfigureAwait(false);
        connection.Dispose();
    }

    /// <summary>
    /// The host is stopping: from now on no upgrade starts, and one that has not committed is abandoned (its
    /// successor told to exit, and killed if it is this generation's child and does not). Returns at once.
    /// </summary>
    public void BeginStop()
    {
        lock (_lock)
        {
            if (_stopRequested)
            {
                return;
            }

            _stopRequested = true;
        }

        _stop.Cancel();
    }

    /// <summary>
    /// Stops for good or after retiring: waits for an upgrade in flight to be abandoned, closes the control listener
    /// (a retired one stays open until exit), and a generation that stops for good (served, did not retire) removes
    /// the control socket, its token file and a PID file that still names it.
    /// </summary>
    public async Task StopAsync()
    {
        BeginStop();
        _sighup?.Dispose();
        await _acceptLoop.ConfigureAwait(false);

        // Held from now on: whatever was in flight is over, and nothing starts after this.
        await _upgradeSlot.WaitAsync().ConfigureAwait(false);
        bool forGood;
        lock (_lock)
        {
            forGood = _state == State.Serving;
            _state = _state == State.Retired ? State.Retired : State.Stopped;
        }

        _control?.Socket.Dispose();
        if (forGood)
        {
            _admission.WithdrawFileToken();
            File.Delete(options.SocketPath);
            if (options.PidFile is { } pidFile)
            {
                PidFile.DeleteIfOurs(pidFile);
            }
        }
    }

    private (UpgradeOutcome Outcome, string Reason)? NotReadyForUpgrade()
    {
        if (Environment.ProcessId == 1)
        {
            return (UpgradeOutcome.RunningAsPid1, RunningAsPid1Reason);
        }

        lock (_lock)
        {
            if (_stopRequested && _state == State.Serving)
            {
                return (UpgradeOutcome.Stopping, "this generation is stopping");
            }

            if (_state != State.Serving)
            {
                return (UpgradeOutcome.NotServing, $"this generation is not serving ({_state.ToString().ToLowerInvariant()})");
            }
        }

        return _predecessorExited.IsCompleted
            ? null
            : (UpgradeOutcome.PreviousGenerationDraining, $"the previous generation (pid {_predecessorProcessId}) is still draining");
    }

    /// <summary>Why an upgrade's deadline fired: this generation stopping (which wins), the caller, or the ready timeout.</summary>
    private UpgradeOutcome AbandonedOutcome(CancellationToken caller)
    {
        lock (_lock)
        {
            return _stopRequested ? UpgradeOutcome.Stopping : caller.IsCancellationRequested ? UpgradeOutcome.Canceled : UpgradeOutcome.NotReadyInTime;
        }
    }

    /// <summary>A failure tells systemd the reload is over (and this generation serves on); a success is the successor's to tell.</summary>
    private async Task<UpgradeResult> ReportAsync(UpgradeResult result)
    {
        if (!result.Succeeded)
        {
            string servesOn = result.Outcome == UpgradeOutcome.Stopping ? "" : $"; generation {_generation} serves on";
            string status = SystemdNotifier.Status($"Upgrade failed ({result.Outcome}): {result.Error}{servesOn}");
            await SystemdNotifier.NotifyAsync(logger, $"READY=1\n{status}").ConfigureAwait(false);
        }

        return result;
    }

    private UpgradeResult Failed(UpgradeOutcome outcome, string reason, int processId = 0)
    {
        bool servesOn;
        lock (_lock)
        {
            servesOn = _state == State.Serving && !_stopRequested;
        }

        // Said only when true: a generation that is stopping, retired or not serving yet does not keep serving.
        if (servesOn)
        {
            Log.UpgradeFailed(logger, reason);
        }
        else
        {
            Log.UpgradeFailedNotServing(logger, reason);
        }

        UpgradeMetrics.Ended(outcome);
        return UpgradeResult.Failure(outcome, reason, processId);
    }
}
