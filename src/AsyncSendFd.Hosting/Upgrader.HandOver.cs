using System.ComponentModel;
using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using AsyncSendFd.Hosting.Diagnostics;
using AsyncSendFd.Hosting.Internal;
using AsyncSendFd.Hosting.Protocol;
using AsyncSendFd.Native.Interop.Unix;

namespace AsyncSendFd.Hosting;

// The serving generation's side: triggers, the control socket's accept loop, and the hand-over itself.
public sealed partial class Upgrader
{
    private AwaitedChild? _awaited;

    /// <summary>
    /// Upgrades now: starts the successor (<see cref="UpgradeOptions.SuccessorStartInfo"/>, by default this program
    /// again), hands over when it connects, and waits until it is ready. On success this generation has retired
    /// (<see cref="Retired"/>); on failure nothing changed and the next upgrade can be tried. Both are logged.
    /// </summary>
    /// <param name="cancellationToken">Abandons the upgrade (the successor is stopped).</param>
    /// <returns>What happened; failures are results, not exceptions.</returns>
    public Task<UpgradeResult> UpgradeAsync(CancellationToken cancellationToken = default) => UpgradeMetrics.MeasureAsync(() => UpgradeForAsync("method call", cancellationToken));

    private void OnSighup(PosixSignalContext context)
    {
        context.Cancel = true;
        _ = Task.Run(() => UpgradeMetrics.MeasureAsync(() => UpgradeForAsync("SIGHUP", CancellationToken.None)));
    }

    private async Task<UpgradeResult> UpgradeForAsync(string trigger, CancellationToken cancellationToken)
    {
        (UpgradeOutcome, string)? notNow = NotReadyForUpgrade();
        if (notNow is { } refusal)
        {
            return Failed(refusal.Item1, refusal.Item2);
        }

        if (!await _upgradeSlot.WaitAsync(0, cancellationToken).ConfigureAwait(false))
        {
            return Failed(UpgradeOutcome.AlreadyInProgress, "another upgrade is running");
        }

        try
        {
            Log.UpgradeRequested(_logger, trigger);
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _shutdown.Token);
            deadline.CancelAfter(_options.ReadyTimeout);
            Process child;
            try
            {
                child = Process.Start((_options.SuccessorStartInfo ?? SuccessorProcess.SameProgram)())
                    ?? throw new InvalidOperationException("Process.Start returned no process.");
            }
            catch (Exception e) when (e is Win32Exception or InvalidOperationException or IOException)
            {
                return Failed(UpgradeOutcome.SuccessorDidNotStart, $"could not start the successor: {e.Message}");
            }

            using (child)
            {
                Socket? connection = await WaitForChildToConnectAsync(child, deadline.Token).ConfigureAwait(false);
                if (connection is null)
                {
                    return child.HasExited
                        ? Failed(UpgradeOutcome.SuccessorExited, $"the successor (pid {child.Id}) exited with code {child.ExitCode} before connecting", child.Id)
                        : Failed(CanceledOutcome(cancellationToken) ?? UpgradeOutcome.SuccessorDidNotConnect, $"the successor (pid {child.Id}) did not connect within {_options.ReadyTimeout}", Kill(child));
                }

                return await HandOverAsync(connection, connection.GetPeerCredentials(), child, cancellationToken, deadline.Token).ConfigureAwait(false);
            }
        }
        finally
        {
            _upgradeSlot.Release();
        }
    }

    private (UpgradeOutcome, string)? NotReadyForUpgrade()
    {
        lock (_lock)
        {
            if (_stage != Stage.Serving)
            {
                return (UpgradeOutcome.NotServing, $"this generation is not serving ({_stage.ToString().ToLowerInvariant()})");
            }
        }

        return _previousExited.Task.IsCompleted
            ? null
            : (UpgradeOutcome.PreviousGenerationDraining, $"the previous generation (pid {_parentProcessId}) is still draining");
    }

    /// <summary>Which cancellation ended an upgrade early, if one did: the caller's, or this generation stopping.</summary>
    private UpgradeOutcome? CanceledOutcome(CancellationToken caller) =>
        caller.IsCancellationRequested ? UpgradeOutcome.Canceled : _shutdown.IsCancellationRequested ? UpgradeOutcome.Stopping : null;

    private async Task<Socket?> WaitForChildToConnectAsync(Process child, CancellationToken deadline)
    {
        var awaited = new AwaitedChild(child.Id);
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

    private async Task AcceptSuccessorsAsync()
    {
        Socket control = _control!;
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
                Log.ControlConnectionFailed(_logger, e.Message);
                continue;
            }

            _ = HandleConnectionAsync(connection);
        }
    }

    private async Task HandleConnectionAsync(Socket connection)
    {
        UnixPeerCredentials peer;
        try
        {
            peer = connection.GetPeerCredentials();
        }
        catch (SocketException)
        {
            connection.Dispose();
            return;
        }

        lock (_lock)
        {
            if (_awaited is { } awaited && awaited.ProcessId == peer.ProcessId && awaited.Connection.TrySetResult(connection))
            {
                return;
            }
        }

        // A successor someone else started (a supervisor, another unit): the same rules apply.
        (UpgradeOutcome Outcome, string Reason)? notNow = NotReadyForUpgrade();
        if (notNow is not null || !await _upgradeSlot.WaitAsync(0).ConfigureAwait(false))
        {
            UpgradeMetrics.Ended(notNow?.Outcome ?? UpgradeOutcome.AlreadyInProgress, TimeSpan.Zero);
            await RefuseAsync(new FdMessageChannel(connection), connection, notNow?.Reason ?? "another upgrade is running").ConfigureAwait(false);
            connection.Dispose();
            return;
        }

        try
        {
            Log.UpgradeRequested(_logger, $"pid {peer.ProcessId} connected");
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_shutdown.Token);
            deadline.CancelAfter(_options.ReadyTimeout);
            await UpgradeMetrics.MeasureAsync(() => HandOverAsync(connection, peer, child: null, CancellationToken.None, deadline.Token)).ConfigureAwait(false);
        }
        finally
        {
            _upgradeSlot.Release();
        }
    }

    private async Task<UpgradeResult> HandOverAsync(Socket connection, UnixPeerCredentials peer, Process? child, CancellationToken caller, CancellationToken deadline)
    {
        var channel = new FdMessageChannel(connection);
        bool retired = false;
        try
        {
            // The hello is read first even from a process about to be refused: closing with it unread would
            // reset the connection, and the refusal's reason would never reach the other side.
            using (FdMessage? hello = await channel.ReceiveAsync(deadline).ConfigureAwait(false))
            {
                if (hello is null || !UpgradeWire.IsHello(hello.Payload.Span))
                {
                    await RefuseAsync(channel, connection, "not an upgrade hello of this protocol version", helloRead: true).ConfigureAwait(false);
                    return Failed(UpgradeOutcome.ProtocolViolation, $"pid {peer.ProcessId} did not speak the upgrade protocol", peer.ProcessId);
                }
            }

            if (!IsAuthorized(peer))
            {
                Log.RefusedCredentials(_logger, peer.ProcessId, peer.UserId, peer.GroupId);
                await RefuseAsync(channel, connection, $"uid {peer.UserId} may not take over from uid {LibC.getuid()}", helloRead: true).ConfigureAwait(false);
                return Failed(UpgradeOutcome.CredentialsRefused, $"the successor (pid {peer.ProcessId}) runs as uid {peer.UserId}, which may not take over", child is null ? peer.ProcessId : Kill(child));
            }

            (string[] names, SafeHandle[] handles) = SnapshotShared();
            byte[] state = _options.SaveState is { } save ? save().ToArray() : [];
            Log.HandingOver(_logger, peer.ProcessId, peer.UserId, names.Length - 1, string.Join(", ", names.SkipLast(1)), state.Length);
            await channel.SendAsync(UpgradeWire.EncodeOffer(Generation + 1, Environment.ProcessId, names, state), handles, deadline).ConfigureAwait(false);
            UpgradeMetrics.HandedOver(handles.Length);

            using (FdMessage? ready = await channel.ReceiveAsync(deadline).ConfigureAwait(false))
            {
                if (ready is null)
                {
                    return Failed(UpgradeOutcome.SuccessorExited, $"the successor (pid {peer.ProcessId}) exited before it was ready{ExitCode(child)}", peer.ProcessId);
                }

                if (ready.Payload.Length == 0 || ready.Payload.Span[0] != UpgradeWire.Ready)
                {
                    return Failed(UpgradeOutcome.ProtocolViolation, $"the successor (pid {peer.ProcessId}) broke the protocol before it was ready (no Ready message)", child is null ? peer.ProcessId : Kill(child));
                }
            }

            // systemd first, while this process is still its main process; then the successor may speak to it.
            await NotifySystemdAsync($"MAINPID={peer.ProcessId}").ConfigureAwait(false);
            try
            {
                await channel.SendAsync(UpgradeWire.EncodeSignal(UpgradeWire.Commit), default, CancellationToken.None).ConfigureAwait(false);
            }
            catch (SocketException)
            {
                await NotifySystemdAsync($"MAINPID={Environment.ProcessId}").ConfigureAwait(false);
                return Failed(UpgradeOutcome.SuccessorExited, $"the successor (pid {peer.ProcessId}) exited at the commit{ExitCode(child)}", peer.ProcessId);
            }

            retired = Retire(connection);
            Log.Retiring(_logger, peer.ProcessId, Generation);
            return UpgradeResult.Success(peer.ProcessId);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            await TrySendAsync(channel, UpgradeWire.EncodeText(UpgradeWire.Abort, $"not ready within {_options.ReadyTimeout}")).ConfigureAwait(false);
            return Failed(CanceledOutcome(caller) ?? UpgradeOutcome.NotReadyInTime, $"the successor (pid {peer.ProcessId}) was not ready within {_options.ReadyTimeout}", child is null ? peer.ProcessId : Kill(child));
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            return Failed(UpgradeOutcome.HandOverFailed, $"the hand-over to pid {peer.ProcessId} broke: {e.Message}", child is null ? peer.ProcessId : Kill(child));
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
        _options.AuthorizeSuccessor is { } authorize ? authorize(peer) : peer.UserId == LibC.getuid() || _options.AllowedUserIds.Contains(peer.UserId);

    private (string[] Names, SafeHandle[] Handles) SnapshotShared()
    {
        lock (_lock)
        {
            KeyValuePair<string, SafeHandle>[] open = [.. _shared.Where(s => !s.Value.IsClosed && !s.Value.IsInvalid)];
            if (open.Length + 1 > SocketFdExtensions.MaxFdsPerMessage)
            {
                throw new IOException($"{open.Length} shared descriptors: at most {SocketFdExtensions.MaxFdsPerMessage - 1} fit one hand-over.");
            }

            // The control listener goes last, so the next generation serves upgrades on the same path.
            return ([.. open.Select(s => s.Key), UpgradeWire.ControlSocketName], [.. open.Select(s => s.Value), _control!.SafeHandle]);
        }
    }

    private bool Retire(Socket connection)
    {
        lock (_lock)
        {
            // Disposing a Socket that bound a path unlinks the path, which the successor now serves on;
            // so this generation's listener is never disposed: its descriptor closes when the process exits.
            s_openUntilExit.Add(connection);
            s_openUntilExit.Add(_control!);
            _control = null;
            if (_stage == Stage.Serving)
            {
                _stage = Stage.Retired;
            }
        }

        // Stops the accept loop.
        _shutdown.Cancel();
        _retired.TrySetResult();
        return true;
    }

    private UpgradeResult Failed(UpgradeOutcome outcome, string reason, int processId = 0)
    {
        Log.UpgradeFailed(_logger, reason);
        return UpgradeResult.Failure(outcome, reason, processId);
    }

    private static async Task RefuseAsync(FdMessageChannel channel, Socket connection, string reason, bool helloRead = false)
    {
        if (!helloRead)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                (await channel.ReceiveAsync(timeout.Token).ConfigureAwait(false))?.Dispose();
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
            {
                // No hello, or a bad one: the refusal is sent all the same.
            }
        }

        await TrySendAsync(channel, UpgradeWire.EncodeText(UpgradeWire.Refused, reason)).ConfigureAwait(false);
        try
        {
            connection.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
            // Gone already.
        }
    }

    private static async Task TrySendAsync(FdMessageChannel channel, byte[] message)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            await channel.SendAsync(message, default, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            // The peer is gone or not reading, or stalled midway through a frame (the channel is faulted): nothing more to tell it.
        }
    }

    private static int Kill(Process child)
    {
        try
        {
            child.Kill();
        }
        catch (InvalidOperationException)
        {
            // Exited already.
        }

        return child.Id;
    }

    private static string ExitCode(Process? child) =>
        child is not null && child.WaitForExit(TimeSpan.FromSeconds(2)) ? $" (exit code {child.ExitCode})" : "";

    /// <summary>An upgrade's own child, whose connection is expected on the control socket.</summary>
    private sealed class AwaitedChild(int processId)
    {
        public int ProcessId { get; } = processId;

        public TaskCompletionSource<Socket> Connection { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
