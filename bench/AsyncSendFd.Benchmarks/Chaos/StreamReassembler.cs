using System.Runtime.Versioning;

namespace AsyncSendFd.Benchmarks.Chaos;

/// <summary>
/// Follows the byte stream of a <see cref="LaneKind.StreamBatches"/> lane, read by one receiver in pieces of any size, and
/// checks that it is the messages sent, whole and one after another, each with its descriptors on its own bytes.
/// </summary>
/// <remarks>
/// Where the descriptors may arrive follows from Linux's unix_stream_read_generic: a read stops right after the skb that
/// carries descriptors, and a message's descriptors ride on its first skb. So the descriptors of one read belong to the
/// message that holds the read's last byte, and that message starts within the read (earlier messages without descriptors
/// may share the read).
/// </remarks>
[SupportedOSPlatform("linux")]
internal sealed class StreamReassembler(Lane lane)
{
    private readonly byte[] _header = new byte[MessageCodec.HeaderSize];
    private int _headerFill;
    private long _position;
    private long _frameStart;
    private Message? _frame;
    private int _frameFill;
    private bool _frameFdsArrived;
    private readonly Queue<PendingDescriptors> _pending = new();
    private string? _endedInside;
    private Message? _endedInsideFrame;

    /// <summary>A refusal consumed bytes the receiver never saw: from here on only the descriptors can be followed.</summary>
    public bool Desynced { get; private set; }

    public void Desync() => Desynced = true;

    /// <summary>Takes one read: its bytes and the tokens of the descriptors that came with it.</summary>
    public void Feed(ChaosRound round, ReadOnlySpan<byte> bytes, Token?[] tokens, string op)
    {
        if (Desynced)
        {
            return;
        }

        if (Array.IndexOf(tokens, null) >= 0)
        {
            Desynced = true; // a foreign descriptor, reported already
            return;
        }

        if (tokens.Length > 0)
        {
            // Settled once the message holding the read's last byte is known; a short read may end inside its header.
            _pending.Enqueue(new PendingDescriptors(_position, _position + bytes.Length, tokens!));
            if (_frame is not null && !TryResolve(round, op))
            {
                return;
            }
        }

        int i = 0;
        while (i < bytes.Length)
        {
            if (_frame is null)
            {
                if (_headerFill == 0)
                {
                    _frameStart = _position;
                }

                int take = Math.Min(MessageCodec.HeaderSize - _headerFill, bytes.Length - i);
                bytes.Slice(i, take).CopyTo(_header.AsSpan(_headerFill));
                _headerFill += take;
                i += take;
                _position += take;
                if (_headerFill < MessageCodec.HeaderSize)
                {
                    break;
                }

                if (!MessageCodec.TryReadHeader(_header, out int id, out int length, out int fdCount)
                    || round.FindMessage(id) is not { } message || message.Lane != lane || message.DataLength != length || message.Tokens.Length != fdCount)
                {
                    OutOfStep(round, $"{op}: the 16 bytes at stream offset {_frameStart} are no header of a message sent on {lane} ({Convert.ToHexString(_header)})");
                    return;
                }

                _frame = message;
                _frameFill = MessageCodec.HeaderSize;
                _frameFdsArrived = false;
                if (!TryResolve(round, op))
                {
                    return;
                }
            }
            else
            {
                int take = Math.Min(_frame.DataLength - _frameFill, bytes.Length - i);
                for (int k = 0; k < take; k++)
                {
                    if (bytes[i + k] != MessageCodec.BodyByte(_frame.Id, _frameFill + k))
                    {
                        OutOfStep(round, $"{op}: byte {_frameFill + k} of {_frame} (stream offset {_position + k}) is 0x{bytes[i + k]:x2}, not 0x{MessageCodec.BodyByte(_frame.Id, _frameFill + k):x2}");
                        return;
                    }
                }

                _frameFill += take;
                i += take;
                _position += take;
            }

            if (_frame is not null && _frameFill == _frame.DataLength && !Complete(round, op))
            {
                return;
            }
        }
    }

    /// <summary>At end of stream: notes where it ended, judged once every send has reported (<see cref="CheckEnd"/>).</summary>
    public void AtEnd()
    {
        if (!Desynced && (_frame is not null || _headerFill > 0 || _pending.Count > 0))
        {
            _endedInside = _frame is null
                ? $"after {_headerFill} bytes of a message header"
                : $"after {_frameFill} of the {_frame.DataLength} bytes of {_frame}";
            _endedInsideFrame = _frame;
        }
    }

    /// <summary>
    /// A stream may end inside a message only if its send failed (the socket disposed or the peer gone midway); inside a
    /// header, only if some send on the lane did.
    /// </summary>
    public void CheckEnd(ChaosRound round)
    {
        bool excused = _endedInsideFrame is { } frame ? frame.State != SendState.Succeeded : lane.SendMaybePartial;
        if (_endedInside is not null && !excused)
        {
            round.Violation(Violations.EndedMidMessage, $"{lane}: end of stream {_endedInside}"
                + (_endedInsideFrame is null ? ", and no send failed midway" : $", whose send ({_endedInsideFrame.SentBy}) reported success"), lane);
        }
    }

    /// <summary>Settles the pending descriptors whose read's last byte the current message holds.</summary>
    private bool TryResolve(ChaosRound round, string op)
    {
        Message frame = _frame!;
        long frameEnd = _frameStart + frame.DataLength;
        while (_pending.TryPeek(out PendingDescriptors? pending) && pending.End <= frameEnd)
        {
            _pending.Dequeue();
            if (pending.End <= _frameStart || _frameFdsArrived)
            {
                OutOfStep(round, $"{op}: {pending.Tokens.Length} descriptors arrived on stream bytes {pending.Start}..{pending.End}, "
                    + $"which end {(pending.End <= _frameStart ? "before" : "inside")} {frame} (bytes {_frameStart}..{frameEnd}), whose descriptors came already");
                return false;
            }

            if (_frameStart < pending.Start)
            {
                OutOfStep(round, $"{op}: {pending.Tokens.Length} descriptors arrived on stream bytes {pending.Start}..{pending.End}, "
                    + $"inside {frame}, which starts at {_frameStart}");
                return false;
            }

            if (!frame.Tokens.AsSpan().SequenceEqual(pending.Tokens))
            {
                round.Violation(Violations.Split, $"{op}: {frame} arrived with {pending.Tokens.Length} descriptors that are not its own", lane);
                Desynced = true;
                return false;
            }

            _frameFdsArrived = true;
        }

        return true;
    }

    private bool Complete(ChaosRound round, string op)
    {
        Message frame = _frame!;
        if (frame.Tokens.Length > 0 && !_frameFdsArrived)
        {
            OutOfStep(round, $"{op}: all bytes of {frame} arrived, but its descriptors did not come with them");
            return false;
        }

        round.ReceivedWhole(frame, op);
        _frame = null;
        _headerFill = 0;
        return true;
    }

    private void OutOfStep(ChaosRound round, string detail)
    {
        Desynced = true;
        if (!lane.StreamMayBeCorrupt)
        {
            round.Violation(Violations.StreamOutOfStep, detail, lane);
        }
    }

    private sealed record PendingDescriptors(long Start, long End, Token[] Tokens);
}
