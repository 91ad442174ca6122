using System.Net.Sockets;
using AsyncSendFd.Hosting.Internal;
using AsyncSendFd.Hosting.Protocol;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Hosting;

// The successor's side: connect, say hello, receive the offer, then wait for the commit.
public sealed partial class Upgrader
{
    private readonly TaskCompletionSource<bool> _committed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Socket? _parent;
    private FdMessageChannel? _parentChannel;
    private int _parentProcessId;

    /// <summary>The connection to the serving generation, or null when nothing listens on the control socket.</summary>
    private async Task<Socket?> TryConnectAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(_options.SocketPath))
        {
            return null;
        }

        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(_options.SocketPath), cancellationToken).ConfigureAwait(false);
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

    private async Task TakeOverAsync(Socket parent, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_options.ReadyTimeout);
        var channel = new FdMessageChannel(parent);
        try
        {
            try
            {
                await channel.SendAsync(UpgradeWire.EncodeHello(), default, deadline.Token).ConfigureAwait(false);
            }
            catch (SocketException)
            {
                // Refused before the hello went out: the reason may be waiting to be read.
            }

            using FdMessage message = await channel.ReceiveAsync(deadline.Token).ConfigureAwait(false)
                ?? throw new IOException("The serving generation hung up without an offer.");
            ReadOnlySpan<byte> payload = message.Payload.Span;
            if (payload.Length > 0 && payload[0] == UpgradeWire.Refused)
            {
                throw new InvalidOperationException($"The serving generation refused to hand over: {UpgradeWire.DecodeText(payload)}");
            }

            (int generation, int parentProcessId, string[] names, byte[] state) = UpgradeWire.DecodeOffer(payload, message.FdCount);
            int controlIndex = Array.IndexOf(names, UpgradeWire.ControlSocketName);
            if (controlIndex < 0)
            {
                throw new IOException("Malformed upgrade offer: the control socket is missing.");
            }

            _control = Handles.ToSocket(message.TakeFd(controlIndex));
            lock (_lock)
            {
                for (int i = 0; i < names.Length; i++)
                {
                    if (i != controlIndex)
                    {
                        _inherited[names[i]] = message.TakeFd(i);
                    }
                }
            }

            Generation = generation;
            _parentProcessId = parentProcessId;
            InheritedState = state;
            _parent = parent;
            _parentChannel = channel;
            Log.TookOver(_logger, generation, Environment.ProcessId, _parentProcessId, names.Length - 1,
                string.Join(", ", names.Where(n => n != UpgradeWire.ControlSocketName)), state.Length);
            _ = WatchPredecessorAsync(channel);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            parent.Dispose();
            throw new TimeoutException($"The serving generation made no offer within {_options.ReadyTimeout}.");
        }
        catch
        {
            parent.Dispose();
            _control?.Dispose();
            _control = null;
            lock (_lock)
            {
                foreach (SafeFileHandle handle in _inherited.Values)
                {
                    handle.Dispose();
                }

                _inherited.Clear();
            }

            throw;
        }
    }

    /// <summary>Reads the predecessor's commit or abort; its end of stream means its process has exited.</summary>
    private async Task WatchPredecessorAsync(FdMessageChannel channel)
    {
        try
        {
            while (await channel.ReceiveAsync().ConfigureAwait(false) is { } message)
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
                        Log.Abandoned(_logger, reason);
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
        bool hungUpOurselves;
        lock (_lock)
        {
            hungUpOurselves = _stage == Stage.Disposed;
        }

        if (_previousExited.TrySetResult() && !hungUpOurselves)
        {
            Log.PreviousExited(_logger, _parentProcessId);
        }
    }

    private async Task CommitWithPredecessorAsync(CancellationToken cancellationToken)
    {
        if (_abandoned.Task.IsCompletedSuccessfully)
        {
            throw new InvalidOperationException($"The serving generation abandoned this successor: {_abandoned.Task.Result}");
        }

        try
        {
            await _parentChannel!.SendAsync(UpgradeWire.EncodeSignal(UpgradeWire.Ready), default, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException)
        {
            // The predecessor is gone; the watcher sees the end of stream and reports no commit.
        }

        if (!await _committed.Task.WaitAsync(cancellationToken).ConfigureAwait(false))
        {
            Log.PreviousVanished(_logger, _parentProcessId);
        }
    }
}
