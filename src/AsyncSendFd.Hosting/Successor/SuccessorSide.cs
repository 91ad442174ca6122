using System.Net.Sockets;
using AsyncSendFd.Hosting.Internal;
using AsyncSendFd.Hosting.Protocol;
using Microsoft.Extensions.Logging;

namespace AsyncSendFd.Hosting.Successor;

/// <summary>
/// The successor's side of an upgrade: connect to the serving generation, say hello, adopt what it offers, say
/// ready, and wait for its commit (or its abort). Then watch it: its end of stream means its process has exited.
/// </summary>
internal sealed class SuccessorSide(UpgradeOptions options, ILogger logger) : IDisposable
{
    private readonly TaskCompletionSource<bool> _committed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _predecessorExited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<string> _abandoned = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ControlConnection? _predecessor;
    private volatile bool _hungUp;

    /// <summary>1 for the first generation; the predecessor's number plus one after a take-over.</summary>
    public int Generation { get; private set; }

    public int PredecessorProcessId { get; private set; }

    public ReadOnlyMemory<byte> InheritedState { get; private set; }

    public InheritedDescriptors Inherited { get; } = new();

    /// <summary>Whether this process took over and still owes its predecessor a Ready.</summary>
    public bool TookOver => _predecessor is not null;

    public Task PredecessorExited => _predecessorExited.Task;

    public Task<string> Abandoned => _abandoned.Task;

    /// <summary>
    /// Takes over from the generation serving on the control socket. Returns the control listener it handed over,
    /// or <see langword="null"/> when nothing serves there (this is the first generation).
    /// </summary>
    /// <exception cref="InvalidOperationException">The serving generation refused this process.</exception>
    /// <exception cref="IOException">The serving generation broke the protocol or hung up.</exception>
    /// <exception cref="TimeoutException">No offer within the ready timeout.</exception>
    public async Task<Socket?> TryTakeOverAsync(CancellationToken cancellationToken)
    {
        string? token = TakeToken();
        Socket? socket = await TryConnectAsync(cancellationToken).ConfigureAwait(false);
        if (socket is null)
        {
            Generation = 1;
            _predecessorExited.TrySetResult();
            return null;
        }

        var predecessor = new ControlConnection(socket);
        Socket? control = null;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(options.ReadyTimeout);
        try
        {
            try
            {
                await predecessor.SendAsync(UpgradeWire.EncodeHello(token), deadline.Token).ConfigureAwait(false);
            }
            catch (SocketException)
            {
                // Refused before the hello went out: the reason may be waiting to be read.
            }

            using FdMessage message = await predecessor.ReceiveAsync(deadline.Token).ConfigureAwait(false)
                ?? throw new IOException("The serving generation hung up without an offer.");
            ReadOnlySpan<byte> payload = message.Payload.Span;
            if (payload.Length > 0 && payload[0] == UpgradeWire.Refused)
            {
                throw new InvalidOperationException($"The serving generation refused to hand over: {UpgradeWire.DecodeText(payload)}");
            }

            (int generation, int predecessorProcessId, string[] names, byte[] state) = UpgradeWire.DecodeOffer(payload, message.FdCount);
            int controlIndex = Array.IndexOf(names, UpgradeWire.ControlSocketName);
            if (controlIndex < 0)
            {
                throw new IOException("Malformed upgrade offer: the control socket is missing.");
            }

            control = AdoptControlListener(message, controlIndex);
            for (int i = 0; i < names.Length; i++)
            {
                if (i != controlIndex)
                {
                    Inherited.Add(names[i], message.TakeFd(i));
                }
            }

            Generation = generation;
            PredecessorProcessId = predecessorProcessId;
            InheritedState = state;
            _predecessor = predecessor;
            Log.TookOver(logger, generation, Environment.ProcessId, predecessorProcessId, names.Length - 1,
                string.Join(", ", names.Where(n => n != UpgradeWire.ControlSocketName)), state.Length);
            _ = WatchPredecessorAsync(predecessor);
            return control;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            predecessor.Dispose();
            throw new TimeoutException($"The serving generation made no offer within {options.ReadyTimeout}.");
        }
        catch
        {
            predecessor.Dispose();
            control?.Dispose();
            Inherited.CloseRest();
            throw;
        }
    }

    /// <summary>Says Ready to the predecessor and waits for its commit.</summary>
    /// <exception cref="InvalidOperationException">The predecessor abandoned this successor.</exception>
    public async Task CommitAsync(CancellationToken cancellationToken)
    {
        if (_abandoned.Task.IsCompletedSuccessfully)
        {
            throw new InvalidOperationException($"The serving generation abandoned this successor: {_abandoned.Task.Result}");
        }

        try
        {
            await _predecessor!.SendAsync(UpgradeWire.EncodeSignal(UpgradeWire.Ready), cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException)
        {
            // The predecessor is gone; the watcher sees the end of stream and reports no commit.
        }

        if (!await _committed.Task.WaitAsync(cancellationToken).ConfigureAwait(false))
        {
            Log.PreviousVanished(logger, PredecessorProcessId);
        }
    }

    /// <summary>
    /// Hangs up on the predecessor (one that is still handing over learns at once that this successor is gone) and
    /// closes every inherited descriptor nobody took.
    /// </summary>
    public void Dispose()
    {
        _hungUp = true;
        _predecessor?.Dispose();
        Inherited.Dispose();
        _abandoned.TrySetCanceled();
    }

    /// <summary>
    /// The one-time token that admits this process: from its parent (the environment, removed once read, so this
    /// process's own children do not inherit it), else from the token file.
    /// </summary>
    private string? TakeToken()
    {
        string? token = Environment.GetEnvironmentVariable(UpgradeWire.TokenVariable);
        if (!string.IsNullOrEmpty(token))
        {
            Environment.SetEnvironmentVariable(UpgradeWire.TokenVariable, null);
            return token;
        }

        return options.TokenFile is { } path ? TokenFile.Read(path) : null;
    }

    private static Socket AdoptControlListener(FdMessage offer, int index)
    {
        try
        {
            return offer.TakeFd(index).ToSocket(AddressFamily.Unix, SocketType.Stream);
        }
        catch (ArgumentException e)
        {
            throw new IOException($"Malformed upgrade offer: {e.Message}", e);
        }
    }

    /// <summary>The connection to the serving generation, or null when nothing listens on the control socket.</summary>
    private async Task<Socket?> TryConnectAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(options.SocketPath))
        {
            return null;
        }

        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(options.SocketPath), cancellationToken).ConfigureAwait(false);
            return socket;
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.AddressNotAvailable)
        {
            // A file nobody listens on: left by a generation that died. This process is the first.
            socket.Dispose();
            return null;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Reads the predecessor's commit or abort; its end of stream means its process has exited.</summary>
    private async Task WatchPredecessorAsync(ControlConnection predecessor)
    {
        try
        {
            while (await predecessor.ReceiveAsync().ConfigureAwait(false) is { } message)
            {
                using (message)
                {
                    byte type = message.Payload.Length > 0 ? message.Payload.Span[0] : (byte)0;
                    if (type == UpgradeWire.Commit)
                    {
                        _committed.TrySetResult(true);
                    }
                    else if (type == UpgradeWire.Abort)
                    {
                        string reason = UpgradeWire.DecodeText(message.Payload.Span);
                        Log.Abandoned(logger, reason);
                        _abandoned.TrySetResult(reason);
                        _committed.TrySetException(new InvalidOperationException($"The serving generation abandoned this successor: {reason}"));
                    }
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            // Broken or closed: the same as end of stream for what follows.
        }

        // Before a commit, this is a predecessor that died: being ready, this process serves on its own.
        _committed.TrySetResult(false);
        if (_predecessorExited.TrySetResult() && !_hungUp)
        {
            Log.PreviousExited(logger, PredecessorProcessId);
        }
    }
}
