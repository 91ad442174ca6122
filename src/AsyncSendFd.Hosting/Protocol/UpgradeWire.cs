using System.Buffers.Binary;
using System.Text;

namespace AsyncSendFd.Hosting.Protocol;

/// <summary>
/// The messages of the upgrade protocol, each one <see cref="FdMessageChannel"/> frame whose first byte
/// says what it is. The successor speaks first (Hello, with its one-time token); the serving generation
/// answers with an Offer (the descriptors ride on it) or Refused; the successor says Ready; the serving
/// generation says Commit, or Abort if it gives up on the successor (too slow, or stopping). A client that
/// asks for an upgrade speaks first too (UpgradeRequest), and is answered with the Result once it is over.
/// </summary>
internal static class UpgradeWire
{
    public const byte Hello = (byte)'H';
    public const byte UpgradeRequest = (byte)'U';
    public const byte Result = (byte)'S';
    public const byte Offer = (byte)'O';
    public const byte Refused = (byte)'R';
    public const byte Ready = (byte)'Y';
    public const byte Commit = (byte)'C';
    public const byte Abort = (byte)'A';

    /// <summary>The name the control listener travels under, so each generation serves upgrades on the same path.</summary>
    public const string ControlSocketName = "asyncsendfd.upgrade-socket";

    /// <summary>Names are short labels, not payloads.</summary>
    public const int MaxNameBytes = 1024;

    /// <summary>
    /// The environment variable that hands a successor this generation started its one-time token (the successor
    /// removes it from its own environment once read, so its other children do not inherit it).
    /// </summary>
    public const string TokenVariable = "ASYNCSENDFD_UPGRADE_TOKEN";

    /// <summary>Tokens are short ASCII strings (<see cref="NewToken"/> makes 64 hex digits).</summary>
    public const int MaxTokenBytes = 256;

    // The version is part of the magic: a successor speaking another version is refused, never misread.
    private static ReadOnlySpan<byte> Magic => "ASFU/1"u8;

    /// <summary>What the first message on a control connection says the peer is.</summary>
    public enum Greeting
    {
        /// <summary>Not a first message of this protocol version.</summary>
        Unknown,

        /// <summary>A successor that wants to take over.</summary>
        Hello,

        /// <summary>A client asking for an upgrade and its result.</summary>
        UpgradeRequest,
    }

    /// <summary>A fresh one-time token: 32 random bytes, as hex.</summary>
    public static string NewToken() => Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    /// <summary>[H][magic][token, ASCII; empty when the successor has none].</summary>
    public static byte[] EncodeHello(string? token) => [Hello, .. Magic, .. Encoding.ASCII.GetBytes(token ?? "")];

    public static byte[] EncodeUpgradeRequest() => [UpgradeRequest, .. Magic];

    /// <summary>What the peer says it is, and the token a hello carries (empty when none).</summary>
    public static (Greeting Kind, string Token) ReadGreeting(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < 1 + Magic.Length || !payload[1..(1 + Magic.Length)].SequenceEqual(Magic))
        {
            return (Greeting.Unknown, "");
        }

        ReadOnlySpan<byte> rest = payload[(1 + Magic.Length)..];
        return payload[0] switch
        {
            Hello when rest.Length <= MaxTokenBytes && Ascii.IsValid(rest) => (Greeting.Hello, Encoding.ASCII.GetString(rest)),
            UpgradeRequest when rest.IsEmpty => (Greeting.UpgradeRequest, ""),
            _ => (Greeting.Unknown, ""),
        };
    }

    /// <summary>[S][outcome:u8][successor pid:i32][UTF-8 error, empty on success].</summary>
    public static byte[] EncodeResult(UpgradeResult result)
    {
        byte[] error = Encoding.UTF8.GetBytes(result.Error ?? "");
        var buffer = new byte[6 + error.Length];
        buffer[0] = Result;
        buffer[1] = checked((byte)result.Outcome);
        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(2), result.SuccessorProcessId);
        error.CopyTo(buffer.AsSpan(6));
        return buffer;
    }

    /// <exception cref="IOException">Not a result of this protocol version.</exception>
    public static UpgradeResult DecodeResult(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < 6 || payload[0] != Result || !Enum.IsDefined((UpgradeOutcome)payload[1]))
        {
            throw new IOException("Malformed upgrade result.");
        }

        var outcome = (UpgradeOutcome)payload[1];
        int processId = BinaryPrimitives.ReadInt32LittleEndian(payload[2..]);
        return outcome == UpgradeOutcome.Succeeded
            ? UpgradeResult.Success(processId)
            : UpgradeResult.Failure(outcome, Encoding.UTF8.GetString(payload[6..]), processId);
    }

    public static byte[] EncodeSignal(byte type) => [type];

    public static byte[] EncodeText(byte type, string text) => [type, .. Encoding.UTF8.GetBytes(text)];

    public static string DecodeText(ReadOnlySpan<byte> payload) => Encoding.UTF8.GetString(payload[1..]);

    /// <summary>
    /// [O][generation:i32][sender pid:i32][name count:i32]([length:u16][UTF-8 name])*[state...]; descriptor i is name i.
    /// The pid is for logs only: SO_PEERCRED on the successor's side names whoever first listened on the control socket.
    /// </summary>
    public static byte[] EncodeOffer(int generation, int processId, IReadOnlyList<string> names, ReadOnlySpan<byte> state)
    {
        byte[][] encodedNames = [.. names.Select(Encoding.UTF8.GetBytes)];
        var buffer = new byte[HeaderLength + encodedNames.Sum(n => 2 + n.Length) + state.Length];
        buffer[0] = Offer;
        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(1), generation);
        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(5), processId);
        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(9), encodedNames.Length);
        int offset = HeaderLength;
        foreach (byte[] name in encodedNames)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(offset), checked((ushort)name.Length));
            name.CopyTo(buffer.AsSpan(offset + 2));
            offset += 2 + name.Length;
        }

        state.CopyTo(buffer.AsSpan(offset));
        return buffer;
    }

    /// <exception cref="IOException">The offer is malformed or does not match the descriptors that came with it.</exception>
    public static (int Generation, int ProcessId, string[] Names, byte[] State) DecodeOffer(ReadOnlySpan<byte> payload, int fdCount)
    {
        if (payload.Length < HeaderLength || payload[0] != Offer)
        {
            throw Malformed("too short");
        }

        int generation = BinaryPrimitives.ReadInt32LittleEndian(payload[1..]);
        int processId = BinaryPrimitives.ReadInt32LittleEndian(payload[5..]);
        int count = BinaryPrimitives.ReadInt32LittleEndian(payload[9..]);
        if (generation < 2 || count != fdCount)
        {
            throw Malformed($"generation {generation}, {count} names for {fdCount} descriptors");
        }

        var names = new string[count];
        var seen = new HashSet<string>(StringComparer.Ordinal);
        ReadOnlySpan<byte> rest = payload[HeaderLength..];
        for (int i = 0; i < count; i++)
        {
            int length = rest.Length >= 2 ? BinaryPrimitives.ReadUInt16LittleEndian(rest) : throw Malformed("truncated name");
            if (length is 0 or > MaxNameBytes || rest.Length < 2 + length)
            {
                throw Malformed("bad name length");
            }

            names[i] = Encoding.UTF8.GetString(rest.Slice(2, length));
            if (!seen.Add(names[i]))
            {
                throw Malformed($"the name '{names[i]}' comes twice");
            }

            rest = rest[(2 + length)..];
        }

        return (generation, processId, names, rest.ToArray());
    }

    private const int HeaderLength = 13;

    private static IOException Malformed(string why) => new($"Malformed upgrade offer: {why}.");
}
