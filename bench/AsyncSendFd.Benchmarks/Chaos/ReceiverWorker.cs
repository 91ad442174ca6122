using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using Microsoft.Win32.SafeHandles;
using Linux = AsyncSendFd.Native.Interop.Linux;
using Unix = AsyncSendFd.Native.Interop.Unix;

namespace AsyncSendFd.Benchmarks.Chaos;

/// <summary>
/// One receiver of a lane (or of a second <see cref="Socket"/> over its descriptor): receives with a shape that suits the
/// lane, blocking or async, canceled now and then; traces every descriptor to its send and checks each message is whole.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class ReceiverWorker(ChaosRound round, Lane lane, Endpoint endpoint, Random rng, long until = long.MaxValue)
{
    private readonly byte[] _buffer = new byte[lane.Kind == LaneKind.StreamBatches ? 131_072 : 4096];
    private readonly SafeFileHandle?[] _slots = new SafeFileHandle?[SocketFdExtensions.MaxFdsPerMessage];
    private bool _done;

    private enum Shape
    {
        /// <summary><c>ReceiveFd</c>.</summary>
        Fd,

        /// <summary><c>ReceiveSocket</c>.</summary>
        Socket,

        /// <summary><c>ReceiveFds</c> with room for any message.</summary>
        Fds,

        /// <summary><c>ReceiveFds</c> with an 8-byte buffer: longer datagrams are refused (MSG_TRUNC).</summary>
        SmallBuffer,

        /// <summary><c>ReceiveFds</c> with 2 slots: messages with more descriptors are refused.</summary>
        FewSlots,

        /// <summary><c>FdMessageChannel.ReceiveAsync</c>.</summary>
        Frame,
    }

    /// <param name="blocking">Whether this step may use the blocking API (the worker is a thread of its own).</param>
    /// <returns>False when the worker is done.</returns>
    public async Task<bool> StepAsync(bool blocking)
    {
        if (_done || endpoint.IsDisposed || Environment.TickCount64 > until || (endpoint != lane.Receiver && round.ChaosOver))
        {
            return false;
        }

        if (lane.ReceiversPaused && !round.ChaosOver)
        {
            await Task.Delay(10).ConfigureAwait(false);
            return true;
        }

        Shape shape = Choose();
        blocking &= shape != Shape.Frame;
        CancellationTokenSource? cancel = null;
        CancellationToken token = default;
        if (!blocking && !round.ChaosOver && round.Injects(Fault.Cancellation))
        {
            double r = rng.NextDouble();
            if (r < 0.03)
            {
                token = new CancellationToken(canceled: true);
            }
            else if (r < 0.13)
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

        string op = $"{Name(shape, blocking)}{(token.CanBeCanceled ? " (cancelable)" : "")} on {endpoint}";
        CallRecord call = round.Calls.Begin(new CallRecord(op, lane)
        {
            Endpoint = endpoint,
            Peer = lane.HasEndOfStream ? lane.Sender : null,
            IsReceive = true,
            DeadlineMs = blocking && lane.ReceiveTimeout > 0 ? lane.ReceiveTimeout + 1000 : 0,
            DeadlineKind = Violations.TimeoutIgnored,
        });

        round.Counters.Add(blocking ? Counter.BlockingReceives : Counter.AsyncReceives);
        try
        {
            await ReceiveAsync(shape, blocking, token, call, op).ConfigureAwait(false);
        }
        finally
        {
            cancel?.Dispose();
        }

        return !_done;
    }

    private Shape Choose()
    {
        double r = rng.NextDouble();
        return lane.Kind switch
        {
            LaneKind.StreamSingles => lane.SocketsOnly && r < 0.5 ? Shape.Socket : Shape.Fd,
            LaneKind.StreamFrames => Shape.Frame,
            LaneKind.Datagram or LaneKind.Seqpacket when lane.MixedShapes && !round.ChaosOver =>
                r < 0.12 ? Shape.Fd : r < 0.16 ? Shape.Socket : r < 0.19 ? Shape.SmallBuffer : r < 0.22 ? Shape.FewSlots : Shape.Fds,
            _ => Shape.Fds,
        };
    }

    /// <summary>Receives once and checks what came; the call ends (for the watchdog) as soon as the library returns.</summary>
    private async Task ReceiveAsync(Shape shape, bool blocking, CancellationToken token, CallRecord call, string op)
    {
        Socket socket = endpoint.Socket;
        switch (shape)
        {
            case Shape.Fd:
                if (await Call(() => blocking ? ValueTask.FromResult(socket.ReceiveFd()) : socket.ReceiveFdAsync(token)) is { } fd)
                {
                    DeliverOne(fd, null, op);
                }

                break;

            case Shape.Socket:
                if (await Call(() => blocking ? ValueTask.FromResult(socket.ReceiveSocket()) : socket.ReceiveSocketAsync(token)) is { } received)
                {
                    DeliverOne(received.SafeHandle, received, op);
                }

                break;

            case Shape.Frame:
                if (await Call(async () => new Box<FdMessage?>(await endpoint.Channel!.ReceiveAsync(token).ConfigureAwait(false))) is { } frame)
                {
                    DeliverFrame(frame.Value, op);
                }

                break;

            default:
                int length = shape == Shape.SmallBuffer ? 8 : lane.Kind == LaneKind.StreamBatches ? StreamReadLength() : _buffer.Length;
                int slots = shape == Shape.FewSlots ? 2 : _slots.Length;
                if (await Call(async () => new Box<FdReceiveResult>(blocking
                    ? socket.ReceiveFds(_buffer.AsSpan(0, length), _slots.AsSpan(0, slots))
                    : await socket.ReceiveFdsAsync(_buffer.AsMemory(0, length), _slots.AsMemory(0, slots), token).ConfigureAwait(false))) is { } result)
                {
                    DeliverMany(_buffer.AsSpan(0, result.Value.BytesReceived), result.Value.FdCount, op);
                }

                break;
        }

        // Only the library call is inside the try: what the checks throw is the harness's, not a documented outcome.
        async Task<T?> Call<T>(Func<ValueTask<T>> receive)
            where T : class
        {
            try
            {
                T value = await receive().ConfigureAwait(false);
                round.Calls.End(call);
                lane.Log.Add($"{op} -> {(value is SafeHandle or Socket ? "one descriptor" : value)}");
                return value;
            }
            catch (Exception e)
            {
                round.Calls.End(call);
                lane.Log.Add($"{op} -> {e.GetType().Name} {e.Message}");
                Classify(e, shape, blocking, call, op);
                return null;
            }
        }
    }

    /// <summary>A result as a reference, so that null can mean "the call threw".</summary>
    private sealed record Box<T>(T Value)
    {
        public override string ToString() => Value is FdMessage frame ? $"frame of {frame.Payload.Length} B, {frame.FdCount} fds" : Value?.ToString() ?? "null";
    }

    /// <summary>Reads of every size, down to one byte, so that messages arrive in pieces.</summary>
    private int StreamReadLength()
    {
        double r = rng.NextDouble();
        return r < 0.05 ? rng.Next(1, 17) : r < 0.4 ? rng.Next(17, 513) : r < 0.8 ? rng.Next(513, 8193) : rng.Next(8193, _buffer.Length + 1);
    }

    private void DeliverOne(SafeHandle handle, Socket? received, string op)
    {
        lane.NoteReceive();
        Token? token = Identify(handle, op);
        if (token?.Socket is not null && (token.DisposedMidSend || rng.NextDouble() < 0.1))
        {
            received ??= ((SafeFileHandle)handle).ToSocket(AddressFamily.Unix, SocketType.Stream);
            Probe(received, token, op);
        }

        if (received is not null)
        {
            received.Dispose();
        }
        else
        {
            handle.Dispose();
        }

        if (token is not null)
        {
            round.MatchSingle(lane, token, op);
        }
    }

    private void DeliverMany(ReadOnlySpan<byte> data, int count, string op)
    {
        lane.NoteReceive();
        Token?[] tokens = TakeSlots(count, op);
        if (lane.Reassembler is { } stream)
        {
            if (data.IsEmpty && count == 0)
            {
                AtEndOfStream(op);
                stream.AtEnd();
            }
            else
            {
                stream.Feed(round, data, tokens, op);
            }
        }
        else if (data.IsEmpty && count == 0)
        {
            if (lane.HasEndOfStream)
            {
                AtEndOfStream(op); // seqpacket: no empty messages are sent on it, so (0, 0) is the end
            }
            else
            {
                lane.CountEmptyReceived();
            }
        }
        else
        {
            round.MatchMessage(lane, data, tokens, op);
        }
    }

    private void DeliverFrame(FdMessage? message, string op)
    {
        lane.NoteReceive();
        if (message is null)
        {
            AtEndOfStream(op);
            return;
        }

        using (message)
        {
            var tokens = new Token?[message.FdCount];
            for (int i = 0; i < tokens.Length; i++)
            {
                using SafeFileHandle fd = message.TakeFd(i);
                tokens[i] = Identify(fd, op);
                ProbeSometimes(fd, tokens[i], op);
            }

            round.MatchMessage(lane, message.Payload.Span, tokens, op);
        }
    }

    private Token?[] TakeSlots(int count, string op)
    {
        var tokens = new Token?[count];
        for (int i = 0; i < count; i++)
        {
            using SafeFileHandle fd = _slots[i]!;
            _slots[i] = null;
            tokens[i] = Identify(fd, op);
            ProbeSometimes(fd, tokens[i], op);
        }

        return tokens;
    }

    /// <summary>Traces a received descriptor to its token; each may arrive once.</summary>
    private Token? Identify(SafeHandle handle, string op)
    {
        Token? token = round.Tokens.Identify(handle, out string identity);
        if (token is null)
        {
            round.Violation(Violations.Foreign, $"{op} returned a descriptor pointing at {identity}, which no send carried", lane);
            return null;
        }

        if (token.MarkReceived() > 1)
        {
            round.Violation(Violations.Duplicated, $"{op} returned {token} of {token.Message} a second time (sent by {token.Message?.SentBy})", lane);
        }

        round.Counters.Add(Counter.DescriptorsMoved);
        if (rng.Next(50) == 0 && (Unix.LibC.fcntl((int)handle.DangerousGetHandle(), Linux.LibC.F_GETFD, 0) & Linux.LibC.FD_CLOEXEC) == 0)
        {
            round.Violation(Violations.NotCloseOnExec, $"{op} returned {token} without FD_CLOEXEC", lane);
        }

        return token;
    }

    private void ProbeSometimes(SafeFileHandle fd, Token? token, string op)
    {
        if (token?.Socket is not null && (token.DisposedMidSend || rng.NextDouble() < 0.1))
        {
            using Socket copy = fd.ToSocket(AddressFamily.Unix, SocketType.Stream);
            Probe(copy, token, op);
        }
    }

    /// <summary>
    /// A socket handed over must work at the receiver: a byte written through the copy reaches the peer the sender kept.
    /// .NET's Dispose of a socket whose handle is referenced shuts it down, which the copy would share.
    /// </summary>
    private void Probe(Socket copy, Token token, string op)
    {
        try
        {
            copy.Send([0x5A]);
            var one = new byte[1];
            if (token.Peer!.Receive(one) != 1)
            {
                throw new IOException("the peer read end of stream");
            }
        }
        catch (Exception e) when (e is SocketException or IOException)
        {
            string disposed = token.DisposedMidSend ? ", whose sender disposed it while sending it," : "";
            round.Violation(Violations.SharedSocketShutDown, $"{token}{disposed} arrived through {op} unusable: {e.Message} (sent by {token.Message?.SentBy})", lane);
        }
    }

    private void AtEndOfStream(string op)
    {
        _done = true;
        if (!lane.Sender.IsDisposed)
        {
            round.Violation(Violations.EndWhileOpen, $"{op} reported end of stream; the sender is open", lane);
        }
    }

    /// <summary>A receive that threw: documented outcomes are counted, anything else is a violation.</summary>
    private void Classify(Exception failure, Shape shape, bool blocking, CallRecord call, string op)
    {
        switch (failure)
        {
            case OperationCanceledException:
                round.Counters.Add(Counter.Canceled);
                break;

            case SocketException { SocketErrorCode: SocketError.TimedOut }:
                round.Counters.Add(Counter.TimedOut);
                if (!blocking)
                {
                    round.Violation(Violations.Undocumented, $"{op} timed out, but async calls have no timeout", lane);
                }

                break;

            case SocketException { NativeErrorCode: Errno.ECONNRESET or Errno.EPIPE or Errno.ENOTCONN or Errno.ECONNREFUSED } error:
                round.Counters.Add(Counter.ClosedPeerErrors);
                _done = true;
                if (!lane.Sender.IsDisposed)
                {
                    round.Violation(Violations.PeerErrorWhileOpen, $"{op}: {error.Message} while the sender is open", lane);
                }

                break;

            case ObjectDisposedException:
                _done = true;
                if (!endpoint.IsDisposed)
                {
                    round.Violation(Violations.DisposedWhileAlive, $"{op} threw ObjectDisposedException; its socket is not disposed: {failure.Message}", lane);
                }

                break;

            case EndOfStreamException when shape == Shape.Frame:
                if (!lane.Sender.IsDisposed)
                {
                    round.Violation(Violations.EndWhileOpen, $"{op}: {failure.Message}; the sender is open", lane);
                }

                break;

            case EndOfStreamException:
                AtEndOfStream(op);
                break;

            case IOException:
                Refused(failure, shape, call, op);
                break;

            case InvalidOperationException { InnerException: { } cause } when shape == Shape.Frame && IsDocumentedFault(cause):
                // A faulted channel (its cause inside): the frames after it are unreadable, so the lane's receiving end is closed.
                _done = true;
                lane.ReceiverGoneEarly = true;
                round.CloseReceiver(lane);
                break;

            default:
                _done = true;
                round.Violation(Violations.Undocumented, $"{op} threw {failure.GetType().Name}: {failure.Message}", lane);
                break;
        }
    }

    /// <summary>
    /// An IOException consumed one message and closed its descriptors. That is documented for MSG_CTRUNC at the descriptor
    /// limit, and for a receive shape that does not fit the message; our senders send nothing else a receiver may refuse.
    /// </summary>
    private void Refused(Exception failure, Shape shape, CallRecord call, string op)
    {
        lane.AddRefusal();
        round.Counters.Add(Counter.Refusals);
        lane.Reassembler?.Desync();
        bool truncated = failure.Message.Contains("MSG_CTRUNC", StringComparison.Ordinal);
        if (truncated && !round.SqueezedDuring(call.StartedAt))
        {
            round.Violation(Violations.UnexpectedRefusal, $"{op}: {failure.Message} (no descriptor squeeze since the call began)", lane);
        }
        else if (!truncated && shape == Shape.Frame)
        {
            round.Violation(Violations.ChannelOutOfStep, $"{op}: {failure.Message} (every frame sent was well-formed)", lane);
        }
        else if (!truncated && shape is Shape.Fds && lane.Kind != LaneKind.StreamSingles)
        {
            round.Violation(Violations.UnexpectedRefusal, $"{op}: {failure.Message} (room for any message was given)", lane);
        }
        else if (!truncated && lane.Kind == LaneKind.StreamSingles)
        {
            round.Violation(Violations.UnexpectedRefusal, $"{op}: {failure.Message} (only single descriptors are sent here)", lane);
        }
    }

    /// <summary>What faults a channel, by its documentation: a frame abandoned midway, canceled, cut off, refused or failed.</summary>
    public static bool IsDocumentedFault(Exception cause) => cause is OperationCanceledException or IOException or ObjectDisposedException or SocketException;

    private static string Name(Shape shape, bool blocking)
    {
        string name = shape switch
        {
            Shape.Fd => "ReceiveFd",
            Shape.Socket => "ReceiveSocket",
            Shape.Frame => "FdMessageChannel.Receive",
            Shape.SmallBuffer => "ReceiveFds[8-byte buffer]",
            Shape.FewSlots => "ReceiveFds[2 slots]",
            _ => "ReceiveFds",
        };
        return blocking ? name : name + "Async";
    }
}
