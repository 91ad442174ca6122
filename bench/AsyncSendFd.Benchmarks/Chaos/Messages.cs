using System.Buffers.Binary;
using System.Runtime.Versioning;

namespace AsyncSendFd.Benchmarks.Chaos;

/// <summary>How a message was sent, and so how it is recognised at the other end.</summary>
internal enum MessageShape
{
    /// <summary><c>SendFd</c>: 4 zero bytes and one memfd; known by its descriptor.</summary>
    Single,

    /// <summary><c>SendSocket</c>: 4 zero bytes and one socket; known by its descriptor.</summary>
    SingleSocket,

    /// <summary><c>SendFds</c>/<c>SendFdsTo</c>/<c>FdMessageChannel.SendAsync</c>: encoded bytes (known by the id in them) or none (known by the descriptors).</summary>
    Batch,

    /// <summary>An empty datagram: no bytes, no descriptors; only counted.</summary>
    Empty,
}

/// <summary>What a send reported.</summary>
internal enum SendState
{
    Pending,
    Succeeded,

    /// <summary>Canceled, timed out, refused before anything was written: it must never arrive.</summary>
    FailedNothingSent,

    /// <summary>Failed after maybe writing its first bytes (socket disposed, peer gone): it may arrive at most once.</summary>
    FailedMaybeSent,
}

/// <summary>One message sent on a lane, with the tokens riding on it.</summary>
[SupportedOSPlatform("linux")]
internal sealed class Message(int id, Lane lane, MessageShape shape, Token[] tokens, int dataLength)
{
    private int _received;
    private int _state;

    public int Id { get; } = id;

    public Lane Lane { get; } = lane;

    public MessageShape Shape { get; } = shape;

    public Token[] Tokens { get; } = tokens;

    public int DataLength { get; } = dataLength;

    public SendState State
    {
        get => (SendState)Volatile.Read(ref _state);
        set => Volatile.Write(ref _state, (int)value);
    }

    public int Received => Volatile.Read(ref _received);

    /// <summary>The call that sent it, for reports.</summary>
    public string SentBy { get; set; } = "(not sent yet)";

    /// <summary>Sent with a call that may write it in several sendmsg calls (a stream message over one skb).</summary>
    public bool MayBePartial => Lane.Kind is LaneKind.StreamBatches or LaneKind.StreamFrames && DataLength > MessageCodec.AtomicStreamBytes;

    /// <returns>How many times it has been received whole, this one included.</returns>
    public int MarkReceived() => Interlocked.Increment(ref _received);

    public override string ToString() => $"message {Id} ({Shape}, {DataLength} bytes, {Tokens.Length} fds) on {Lane}";
}

/// <summary>
/// The bytes of a <see cref="MessageShape.Batch"/> message: a 16-byte header (magic, id, length, descriptor count) and a
/// body that is a function of the id and the offset, so any byte out of place, lost or from another message shows.
/// </summary>
internal static class MessageCodec
{
    public const int HeaderSize = 16;

    /// <summary>A stream message this small leaves in one skb (the smallest send buffer's half, less overhead): one sendmsg, all or nothing.</summary>
    public const int AtomicStreamBytes = 2048;

    private const uint Magic = 0x4F414843; // "CHAO"

    public static byte[] Encode(int id, int length, int fdCount)
    {
        var data = new byte[length];
        BinaryPrimitives.WriteUInt32LittleEndian(data, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(4), id);
        BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(8), length);
        BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(12), fdCount);
        for (int i = HeaderSize; i < length; i++)
        {
            data[i] = BodyByte(id, i);
        }

        return data;
    }

    public static byte BodyByte(int id, int offset) => (byte)((id * 131) + (offset * 7) + (offset >> 8));

    public static bool TryReadHeader(ReadOnlySpan<byte> header, out int id, out int length, out int fdCount)
    {
        id = BinaryPrimitives.ReadInt32LittleEndian(header[4..]);
        length = BinaryPrimitives.ReadInt32LittleEndian(header[8..]);
        fdCount = BinaryPrimitives.ReadInt32LittleEndian(header[12..]);
        return BinaryPrimitives.ReadUInt32LittleEndian(header) == Magic && length >= HeaderSize && fdCount is >= 0 and <= SocketFdExtensions.MaxFdsPerMessage;
    }

    /// <summary>Checks a whole message's bytes.</summary>
    /// <returns>Null when they are one whole message (its id in <paramref name="id"/>); otherwise what is wrong.</returns>
    public static string? Check(ReadOnlySpan<byte> data, out int id, out int fdCount)
    {
        id = -1;
        fdCount = -1;
        if (data.Length < HeaderSize || !TryReadHeader(data, out id, out int length, out fdCount))
        {
            return $"{data.Length} bytes without a message header";
        }

        if (length != data.Length)
        {
            return $"{data.Length} bytes of message {id}, which is {length} bytes long";
        }

        for (int i = HeaderSize; i < data.Length; i++)
        {
            if (data[i] != BodyByte(id, i))
            {
                return $"byte {i} of message {id} is 0x{data[i]:x2}, not 0x{BodyByte(id, i):x2}";
            }
        }

        return null;
    }
}
