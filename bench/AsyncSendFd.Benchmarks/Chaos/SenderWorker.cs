using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace AsyncSendFd.Benchmarks.Chaos;

/// <summary>
/// One sender of a lane: composes a message of fresh descriptors for the lane's kind, sends it blocking or async (with a
/// cancellation now and then, and now and then a Dispose of one of its handles mid-send), and records what the send reported.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class SenderWorker(ChaosRound round, Lane lane, Random rng)
{
    private const int SocketTokenChance = 2; // percent of the descriptors of a batch that are sockets

    private bool _stopped;

    /// <param name="blocking">Whether this step may use the blocking API (the worker is a thread of its own).</param>
    /// <returns>False when the worker is done.</returns>
    public async Task<bool> StepAsync(bool blocking)
    {
        if (round.ChaosOver || lane.Sender.IsDisposed || _stopped)
        {
            return false;
        }

        if (lane.SendersStalled)
        {
            await Task.Delay(20).ConfigureAwait(false);
            return true;
        }

        Message? message = Compose();
        if (message is null)
        {
            round.Counters.Add(Counter.HarnessOutOfDescriptors);
            await Task.Delay(5).ConfigureAwait(false);
            return true;
        }

        await SendAsync(message, blocking && lane.Kind != LaneKind.StreamFrames).ConfigureAwait(false);
        return !_stopped;
    }

    private Message? Compose()
    {
        double r = rng.NextDouble();
        (MessageShape shape, int fds, int length) = lane.Kind switch
        {
            LaneKind.StreamSingles => (lane.SocketsOnly ? MessageShape.SingleSocket : MessageShape.Single, 1, 4),
            LaneKind.StreamBatches => (MessageShape.Batch, FdCount(), StreamLength()),
            LaneKind.StreamFrames => Frame(FdCount()),
            LaneKind.DatagramTo => r < 0.05 ? (MessageShape.Empty, 0, 0) : Datagram(FdCount()),
            _ => r < 0.12 ? (MessageShape.Single, 1, 4)
                : r < 0.17 ? (MessageShape.SingleSocket, 1, 4)
                : r < 0.22 && lane.Kind == LaneKind.Datagram ? (MessageShape.Empty, 0, 0)
                : Datagram(FdCount()),
        };

        var tokens = new Token[fds];
        for (int i = 0; i < fds; i++)
        {
            bool socket = shape == MessageShape.SingleSocket || (shape == MessageShape.Batch && rng.Next(100) < SocketTokenChance && round.MaySendSocket());
            Token? token = round.Tokens.Create(socket);
            if (token is null)
            {
                for (int j = 0; j < i; j++)
                {
                    tokens[j].DisposeSenderCopy();
                    tokens[j].Peer?.Dispose();
                }

                return null;
            }

            tokens[i] = token;
        }

        return round.Register(lane, shape, tokens, length);

        (MessageShape, int, int) Frame(int count) =>
            (MessageShape.Batch, count, count > 0 && rng.NextDouble() < 0.15 ? 0 : FrameLength());

        (MessageShape, int, int) Datagram(int count) =>
            (MessageShape.Batch, count, count > 0 && rng.NextDouble() < 0.2 ? 0 : rng.Next(MessageCodec.HeaderSize, 1025));
    }

    private int FdCount()
    {
        double r = rng.NextDouble();
        return r < 0.15 ? 0 : r < 0.5 ? rng.Next(1, 5) : r < 0.8 ? rng.Next(5, 33) : rng.Next(33, SocketFdExtensions.MaxFdsPerMessage + 1);
    }

    private int StreamLength()
    {
        double r = rng.NextDouble();
        return r < 0.7 ? rng.Next(MessageCodec.HeaderSize, MessageCodec.AtomicStreamBytes + 1) : r < 0.95 ? rng.Next(2049, 16385) : rng.Next(16385, 70001);
    }

    private int FrameLength()
    {
        // The channel copies a payload under CopyThreshold into one sendmsg with its header, and sends a longer one after it.
        double r = rng.NextDouble();
        return r < 0.75 ? rng.Next(MessageCodec.HeaderSize, 4097) : r < 0.9 ? rng.Next(4097, FdMessageChannel.CopyThreshold) : rng.Next(FdMessageChannel.CopyThreshold, 100_001);
    }

    private async Task SendAsync(Message message, bool blocking)
    {
        CancellationTokenSource? cancel = null;
        CancellationToken token = default;
        if (!blocking && round.Injects(Fault.Cancellation))
        {
            double r = rng.NextDouble();
            if (r < 0.03)
            {
                token = new CancellationToken(canceled: true);
            }
            else if (r < 0.15)
            {
                cancel = new CancellationTokenSource();
                cancel.CancelAfter(rng.Next(0, 5));
                token = cancel.Token;
            }

            if (token.CanBeCanceled)
            {
                round.Counters.Add(Counter.Cancellations);
            }
        }

        DisposeOneMidSendSometimes(message);
        string op = OperationName(message, blocking) + (token.CanBeCanceled ? " (cancelable)" : "");
        message.SentBy = op;
        bool timeoutApplies = blocking && lane.SendTimeout > 0 && !message.MayBePartial;
        CallRecord call = round.Calls.Begin(new CallRecord($"{op} of {message}", lane)
        {
            Endpoint = lane.Sender,
            Peer = lane.Receiver,
            DeadlineMs = timeoutApplies ? lane.SendTimeout + 1000 : 0,
            DeadlineKind = Violations.TimeoutIgnored,
        });

        Exception? failure = null;
        try
        {
            await Invoke(message, blocking, token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            failure = e;
        }
        finally
        {
            round.Calls.End(call);
            cancel?.Dispose();
        }

        round.Counters.Add(blocking ? Counter.BlockingSends : Counter.AsyncSends);
        message.State = failure is null ? SendState.Succeeded : Classify(failure, message, op, blocking);
        if (message.Shape == MessageShape.Empty)
        {
            lane.CountEmpty(failure is null);
        }

        round.Counters.Add(failure is null ? Counter.MessagesSent : Counter.MessagesFailed);
        if (failure is null)
        {
            round.Counters.Add(Counter.DescriptorsSent, message.Tokens.Length);
            if (message.Shape != MessageShape.Empty)
            {
                lane.CountSent();
            }
        }

        lane.Log.Add($"{op} of message {message.Id} ({message.DataLength} B, {message.Tokens.Length} fds) -> {(failure is null ? "ok" : $"{message.State} {failure.GetType().Name}")}");
        ReleaseTokens(message, op);
    }

    private async Task Invoke(Message message, bool blocking, CancellationToken token)
    {
        Socket socket = lane.Sender.Socket;
        SafeHandle[] handles = Array.ConvertAll(message.Tokens, t => t.Handle);
        switch (message.Shape)
        {
            case MessageShape.Single when blocking:
                socket.SendFd(handles[0]);
                break;
            case MessageShape.Single:
                await socket.SendFdAsync(handles[0], token).ConfigureAwait(false);
                break;
            case MessageShape.SingleSocket when blocking:
                socket.SendSocket(message.Tokens[0].Socket!);
                break;
            case MessageShape.SingleSocket:
                await socket.SendSocketAsync(message.Tokens[0].Socket!, token).ConfigureAwait(false);
                break;
            default:
                byte[] data = message.DataLength == 0 ? [] : MessageCodec.Encode(message.Id, message.DataLength, handles.Length);
                if (lane.Sender.Channel is { } channel)
                {
                    await channel.SendAsync(data, handles, token).ConfigureAwait(false);
                }
                else if (lane.Address is { } address)
                {
                    if (blocking)
                    {
                        socket.SendFdsTo(data, handles, address);
                    }
                    else
                    {
                        await socket.SendFdsToAsync(data, handles, address, token).ConfigureAwait(false);
                    }
                }
                else if (blocking)
                {
                    socket.SendFds(data, handles);
                }
                else
                {
                    await socket.SendFdsAsync(data, handles, token).ConfigureAwait(false);
                }

                break;
        }
    }

    /// <summary>What a failed send reported, by the README's Rules; anything they do not list is a violation.</summary>
    private SendState Classify(Exception failure, Message message, string op, bool blocking)
    {
        switch (failure)
        {
            case OperationCanceledException:
                round.Counters.Add(Counter.Canceled);

                // Canceled only before the first byte; a channel's long payload leaves in a second sendmsg after its header.
                return lane.Kind == LaneKind.StreamFrames && message.DataLength >= FdMessageChannel.CopyThreshold
                    ? SendState.FailedMaybeSent
                    : SendState.FailedNothingSent;

            case SocketException { SocketErrorCode: SocketError.TimedOut }:
                round.Counters.Add(Counter.TimedOut);
                if (!blocking)
                {
                    round.Violation(Violations.Undocumented, $"{op} of {message} timed out, but async calls have no timeout", lane);
                }

                return SendState.FailedNothingSent; // the timeout, like cancellation, applies before the first byte only

            case SocketException socketError:
                return ClassifySocketError(socketError, message, op);

            case ObjectDisposedException when lane.Sender.IsDisposed:
                _stopped = true;
                lane.SendMaybePartial |= message.MayBePartial;
                return SendState.FailedMaybeSent;

            case ObjectDisposedException when message.Tokens.Any(t => t.DisposedMidSend):
                return SendState.FailedNothingSent; // a handle disposed while the send waited: it fails before writing anything

            case ObjectDisposedException:
                round.Violation(Violations.DisposedWhileAlive, $"{op} of {message} threw ObjectDisposedException; neither the socket nor a handle was disposed: {failure.Message}", lane);
                _stopped = true;
                return SendState.FailedMaybeSent;

            case InvalidOperationException { InnerException: { } cause } when lane.Kind == LaneKind.StreamFrames && ReceiverWorker.IsDocumentedFault(cause):
                _stopped = true;
                return SendState.FailedNothingSent; // a faulted channel refuses before sending

            default:
                round.Violation(Violations.Undocumented, $"{op} of {message} threw {failure.GetType().Name}: {failure.Message}", lane);
                _stopped = true;
                return SendState.FailedMaybeSent;
        }
    }

    private SendState ClassifySocketError(SocketException error, Message message, string op)
    {
        switch (error.NativeErrorCode)
        {
            case Errno.EPIPE or Errno.ECONNRESET or Errno.ECONNREFUSED or Errno.ENOTCONN:
                round.Counters.Add(Counter.ClosedPeerErrors);
                if (!lane.Receiver.IsDisposed)
                {
                    round.Violation(Violations.PeerErrorWhileOpen, $"{op} of {message}: {error.Message} (errno {error.NativeErrorCode}) while the receiver is open", lane);
                }

                _stopped = true;
                lane.SendMaybePartial |= message.MayBePartial;
                return SendState.FailedMaybeSent;

            case Errno.ETOOMANYREFS:
                round.Counters.Add(Counter.ResourceErrors);
                return SendState.FailedNothingSent; // the kernel refuses the descriptors with the first sendmsg, before queuing a byte

            case Errno.ENOBUFS or Errno.ENOMEM:
                round.Counters.Add(Counter.ResourceErrors);
                lane.StreamMayBeCorrupt |= message.MayBePartial;
                return SendState.FailedMaybeSent;

            default:
                round.Violation(Violations.Undocumented, $"{op} of {message}: SocketException errno {error.NativeErrorCode} ({error.SocketErrorCode}): {error.Message}", lane);
                _stopped = true;
                return SendState.FailedMaybeSent;
        }
    }

    /// <summary>The caller keeps its handles: they must come back open, and Dispose of them must return at once.</summary>
    private void ReleaseTokens(Message message, string op)
    {
        foreach (Token token in message.Tokens)
        {
            if (token.DisposedMidSend)
            {
                continue; // the disposer has it
            }

            if (token.Handle.IsClosed)
            {
                round.Violation(Violations.SentHandleClosed, $"{op} of {message} returned with {token} closed", lane);
            }

            long start = Environment.TickCount64;
            token.DisposeSenderCopy();
            long took = Environment.TickCount64 - start;
            if (took > 1000)
            {
                round.Violation(Violations.DisposeBlocked, $"Dispose of {token} after {op} of {message} returned took {took} ms", lane);
            }
        }
    }

    private void DisposeOneMidSendSometimes(Message message)
    {
        if (message.Tokens.Length == 0 || rng.NextDouble() >= 0.05 || !round.Injects(Fault.HandleDisposal))
        {
            return;
        }

        // Sockets mostly: .NET's Socket.Dispose waits for references on the handle, a memfd's Dispose never does.
        Token victim = Array.Find(message.Tokens, t => t.Socket is not null) is { } socket && rng.NextDouble() < 0.8
            ? socket
            : message.Tokens[rng.Next(message.Tokens.Length)];
        victim.DisposedMidSend = true;
        round.Counters.Add(Counter.HandleDisposals);
        int delay = rng.Next(0, 20);
        round.Disposer.Start($"Dispose of {victim} mid-send", () =>
        {
            Thread.Sleep(delay);
            round.Disposer.Timed($"Dispose of {victim} {delay} ms into {message.SentBy} of {message}", lane, victim.DisposeSenderCopy);
        });
    }

    private string OperationName(Message message, bool blocking)
    {
        string name = message.Shape switch
        {
            MessageShape.Single => "SendFd",
            MessageShape.SingleSocket => "SendSocket",
            _ when lane.Kind == LaneKind.StreamFrames => "FdMessageChannel.Send",
            _ when lane.Kind == LaneKind.DatagramTo => "SendFdsTo",
            _ => "SendFds",
        };
        return blocking ? name : name + "Async";
    }
}

/// <summary>The errno values the chaos run tells apart (Linux, every architecture .NET runs on).</summary>
internal static class Errno
{
    public const int ENOMEM = 12;
    public const int EPIPE = 32;
    public const int ENOBUFS = 105;
    public const int ECONNRESET = 104;
    public const int ENOTCONN = 107;
    public const int ETOOMANYREFS = 109;
    public const int ECONNREFUSED = 111;
}
