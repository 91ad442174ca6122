using System.Buffers.Binary;

namespace AsyncSendFd.Framing;

/// <summary>The 8-byte header of a <see cref="FdMessageChannel"/> frame: payload length, then descriptor count, little-endian.</summary>
internal readonly record struct FrameHeader(int PayloadLength, int FdCount)
{
    public const int Size = 8;

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteInt32LittleEndian(destination, PayloadLength);
        BinaryPrimitives.WriteInt32LittleEndian(destination[4..], FdCount);
    }

    public static FrameHeader Read(ReadOnlySpan<byte> source) => new(
        BinaryPrimitives.ReadInt32LittleEndian(source),
        BinaryPrimitives.ReadInt32LittleEndian(source[4..]));
}
