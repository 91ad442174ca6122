using System.Numerics;
using System.Runtime.InteropServices;
using System.Text;

namespace AsyncSendFd.Benchmarks.Quick;

/// <summary>
/// What the shared-memory scenario's parent and worker say to each other over one <see cref="FdMessageChannel"/>.
/// The parent announces a variant and a size with a control message (<c>set MODE SIZE</c>, answered <c>ok</c>), then
/// sends payloads; the worker reads every byte of each and answers with their <see cref="Checksum"/> (8 bytes).
/// </summary>
/// <remarks>
/// Modes: <c>B</c>, each payload is the bytes themselves; <c>S</c>, each payload is one byte carrying a sealed memory
/// file, which the worker opens (checks, maps), reads and disposes before answering; <c>R</c>, the control message
/// carries one memory file sealed against shrinking and growing, which the worker maps once, and each payload is one
/// byte saying "read it again". A payload is told from a control message by its length: data is at least 64 KiB or a
/// single byte, control text is neither.
/// </remarks>
internal static class SharedMemoryProtocol
{
    public const char Bytes = 'B';
    public const char Sealed = 'S';
    public const char Reused = 'R';

    /// <summary>The largest payload: the 64 MiB size plus room.</summary>
    public const int MaxPayloadLength = 65 * 1024 * 1024;

    public static byte[] Control(char mode, int size) => Encoding.ASCII.GetBytes(FormattableString.Invariant($"set {mode} {size}"));

    public static bool IsControl(ReadOnlySpan<byte> payload) => payload.Length is > 1 and < 64 && payload.StartsWith("set "u8);

    public static (char Mode, int Size) ParseControl(ReadOnlySpan<byte> payload)
    {
        string[] parts = Encoding.ASCII.GetString(payload).Split(' ');
        return (parts[1][0], int.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>The wrapping sum of the data as 64-bit words: touches every byte (the length is a multiple of 8).</summary>
    public static ulong Checksum(ReadOnlySpan<byte> data)
    {
        ReadOnlySpan<ulong> words = MemoryMarshal.Cast<byte, ulong>(data);
        var sum = Vector<ulong>.Zero;
        ReadOnlySpan<Vector<ulong>> vectors = MemoryMarshal.Cast<ulong, Vector<ulong>>(words);
        foreach (Vector<ulong> vector in vectors)
        {
            sum += vector;
        }

        ulong total = Vector.Sum(sum);
        foreach (ulong word in words[(vectors.Length * Vector<ulong>.Count)..])
        {
            total += word;
        }

        return total;
    }

    /// <summary>What <see cref="Checksum"/> gives for <paramref name="size"/> bytes all equal to <paramref name="value"/>.</summary>
    public static ulong ExpectedChecksum(int size, byte value) => (ulong)(size / 8) * (value * 0x0101010101010101UL);
}
