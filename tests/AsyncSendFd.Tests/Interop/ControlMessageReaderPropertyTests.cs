using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using AsyncSendFd.Receiving;
using AsyncSendFd.Native.Interop;
using AsyncSendFd.Tests.Support;
using CsCheck;

namespace AsyncSendFd.Tests.Interop;

/// <summary>
/// Properties of the bounded CMSG walk over hostile control buffers, in every layout: it terminates, never throws,
/// never hands out a span outside the buffer, and reports exactly what a reference walk of the documented rules
/// finds. Writer-to-reader round trips return exactly what was written.
/// </summary>
public class ControlMessageReaderPropertyTests
{
    private const int GuardBytes = 64;
    private const byte Sentinel = 0xA5;

    public static TheoryData<string> Layouts() => ControlBuffer.LayoutNames();

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Reader_OverArbitraryBytes_TerminatesInsideTheBufferAndMatchesTheReferenceWalk(string layoutName)
    {
        ControlMessageLayout layout = LayoutNamed(layoutName);
        Gen.Byte.Array[0, 300].Sample(bytes => CheckWalk(bytes, layout), iter: 5_000);
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Reader_OverHeaderShapedGarbage_TerminatesInsideTheBufferAndMatchesTheReferenceWalk(string layoutName)
    {
        ControlMessageLayout layout = LayoutNamed(layoutName);
        Gen<byte[]> segment = Gen.Select(
            Gen.Frequency((6, Gen.Long[0, 80]), (1, Gen.Long[0, 1L << 40]), (1, Gen.Const(-1L))),
            Gen.OneOf(Gen.Const(layout.SocketLevel), Gen.Int),
            Gen.OneOf(Gen.Const(layout.RightsType), Gen.Int[0, 5]),
            Gen.Byte.Array[0, 40],
            (declared, level, type, tail) => Header(layout, (ulong)declared, level, type).Concat(tail).ToArray());
        segment.Array[0, 8].Select(parts => parts.SelectMany(p => p).ToArray())
            .Sample(bytes => CheckWalk(bytes, layout), iter: 10_000);
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void WriterThenReader_RandomMessages_RoundTripExactly(string layoutName)
    {
        ControlMessageLayout layout = LayoutNamed(layoutName);
        Gen<Written> message = Gen.OneOf(
            Gen.Int.Array[0, 64].Select(fds => new Written(layout.SocketLevel, layout.RightsType, MemoryMarshal.AsBytes(fds.AsSpan()).ToArray())),
            Gen.Select(Gen.Int, Gen.Int[2, 9], Gen.Byte.Array[0, 40], (level, type, data) => new Written(level, type, data)));
        message.Array[0, 6].Sample(messages =>
        {
            byte[] buffer = new byte[messages.Sum(m => layout.Space(m.Data.Length))];
            var writer = new ControlMessageWriter(buffer, layout);
            foreach (Written m in messages)
            {
                writer.Write(m.Level, m.Type, m.Data);
            }

            Assert.Equal(buffer.Length, writer.BytesWritten);
            var reader = new ControlMessageReader(buffer, layout);
            foreach (Written expected in messages)
            {
                Assert.True(reader.TryReadNext(out ControlMessage actual));
                Assert.False(actual.IsTruncated);
                Assert.Equal(expected.Level, actual.Level);
                Assert.Equal(expected.Type, actual.Type);
                Assert.Equal(expected.Data, actual.Data.ToArray());
            }

            Assert.False(reader.TryReadNext(out _));
            Assert.False(reader.IsMalformed);
        }, iter: 5_000);
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void WriterThenReader_DescriptorListsFollowedByAMalformedTail_ReturnsExactlyTheWellFormedPrefixThenStops(string layoutName)
    {
        ControlMessageLayout layout = LayoutNamed(layoutName);
        ulong maxLength = layout.LengthSize == 8 ? ulong.MaxValue : uint.MaxValue;
        Gen<int[][]> prefix = Gen.Int.Array[0, 40].Array[0, 5];
        Gen<(int Kind, ulong Declared, int Junk)> tail = Gen.Select(Gen.Int[0, 2], Gen.ULong[0, maxLength], Gen.Int[1, layout.HeaderSize - 1], (k, d, j) => (k, d, j));
        Gen.Select(prefix, tail, Gen.Int.Array[0, 10]).Sample((lists, bad, after) =>
        {
            var bytes = new List<byte>();
            foreach (int[] fds in lists)
            {
                bytes.AddRange(Rights(layout, fds));
            }

            int tailAt = bytes.Count;
            switch (bad.Kind)
            {
                case 0: // cmsg_len smaller than a header
                    bytes.AddRange(Header(layout, bad.Declared % (ulong)layout.HeaderSize, layout.SocketLevel, layout.RightsType));
                    break;
                case 1: // cmsg_len beyond the buffer (at least one byte too long)
                    int rest = layout.HeaderSize + (after.Length * sizeof(int));
                    ulong declared = Math.Max(bad.Declared, (ulong)rest + 1);
                    bytes.AddRange(Header(layout, declared, layout.SocketLevel, layout.RightsType));
                    break;
                default: // fewer trailing bytes than a header
                    bytes.AddRange(Enumerable.Repeat((byte)0x7F, bad.Junk));
                    break;
            }

            if (bad.Kind != 2)
            {
                bytes.AddRange(MemoryMarshal.AsBytes(after.AsSpan()).ToArray());
            }

            byte[] buffer = [.. bytes];
            var reader = new ControlMessageReader(buffer, layout);
            foreach (int[] fds in lists)
            {
                Assert.True(reader.TryReadNext(out ControlMessage m));
                Assert.False(m.IsTruncated);
                Assert.Equal(fds, m.Descriptors.ToArray());
            }

            if (bad.Kind == 1)
            {
                Assert.True(reader.TryReadNext(out ControlMessage truncated));
                Assert.True(truncated.IsTruncated);
                Assert.Equal(buffer.Length - tailAt - layout.HeaderSize, truncated.Data.Length);
                Assert.Equal(after, truncated.Descriptors.ToArray());
            }

            Assert.False(reader.TryReadNext(out _));
            Assert.True(reader.IsMalformed);
            Assert.False(reader.TryReadNext(out _));
        }, iter: 5_000);
    }

    [Fact]
    public void CollectDescriptors_OverArbitraryControlData_NeverReturnsMoreThanTheRightsMessagesContained()
    {
        ControlMessageLayout layout = ControlMessageLayout.Current;
        Gen<byte[]> segment = Gen.OneOf(
            Gen.Int.Array[0, 20].Select(fds => Rights(layout, fds)),
            Gen.Select(Gen.Long[0, 64], Gen.Int[0, 3], Gen.Byte.Array[0, 30],
                (declared, type, tail) => Header(layout, (ulong)declared, layout.SocketLevel, type).Concat(tail).ToArray()),
            Gen.Byte.Array[1, 20]);
        segment.Array[0, 6].Select(parts => parts.SelectMany(p => p).ToArray()).Sample(control =>
        {
            var destination = new int[(control.Length / sizeof(int)) + 1];
            int count = ReceivedDescriptors.Collect(control, destination, out bool malformed);

            List<Reference> walk = ReferenceWalk(control, layout, out bool referenceMalformed);
            int[] expected = walk.Where(m => m.Level == layout.SocketLevel && m.Type == layout.RightsType)
                .SelectMany(m => MemoryMarshal.Cast<byte, int>(control.AsSpan(m.DataOffset, m.DataLength)).ToArray()).ToArray();
            Assert.True(count <= expected.Length, $"{count} descriptors collected, the rights messages held {expected.Length}");
            Assert.Equal(expected, destination[..count]);
            Assert.Equal(referenceMalformed, malformed);
        }, iter: 10_000);
    }

    private static void CheckWalk(byte[] bytes, ControlMessageLayout layout)
    {
        byte[] backing = new byte[bytes.Length + (2 * GuardBytes)];
        backing.AsSpan().Fill(Sentinel);
        bytes.CopyTo(backing, GuardBytes);
        ReadOnlySpan<byte> buffer = backing.AsSpan(GuardBytes, bytes.Length);

        List<Reference> expected = ReferenceWalk(bytes, layout, out bool expectedMalformed);
        var reader = new ControlMessageReader(buffer, layout);
        int steps = 0;
        while (reader.TryReadNext(out ControlMessage message))
        {
            Assert.True(steps < expected.Count, $"the reader returned more messages than the {expected.Count} the rules allow");
            Reference reference = expected[steps];
            steps++;

            long start = (long)Unsafe.ByteOffset(ref MemoryMarshal.GetReference(buffer), ref MemoryMarshal.GetReference(message.Data));
            Assert.InRange(start, layout.HeaderSize, bytes.Length);
            Assert.InRange(start + message.Data.Length, start, bytes.Length);
            Assert.Equal(reference.DataOffset, start);
            Assert.Equal(reference.DataLength, message.Data.Length);
            Assert.Equal(reference.Truncated, message.IsTruncated);
            Assert.Equal(reference.Level, message.Level);
            Assert.Equal(reference.Type, message.Type);
            Assert.Equal(message.Data.Length / sizeof(int), message.Descriptors.Length);
            if (!message.IsTruncated)
            {
                ulong declared = ReadLength(buffer[(int)(start - layout.HeaderSize)..], layout);
                Assert.True(declared >= (ulong)layout.HeaderSize && (ulong)(start - layout.HeaderSize) + declared <= (ulong)bytes.Length,
                    "a message reported whole must have a cmsg_len that fits the buffer");
            }
        }

        Assert.Equal(expected.Count, steps);
        Assert.Equal(expectedMalformed, reader.IsMalformed);
        Assert.False(reader.TryReadNext(out _));
        Assert.True(backing.AsSpan(0, GuardBytes).IndexOfAnyExcept(Sentinel) < 0 && backing.AsSpan(GuardBytes + bytes.Length).IndexOfAnyExcept(Sentinel) < 0);
    }

    /// <summary>The rules of ControlMessageReader's remarks, written independently: the oracle.</summary>
    private static List<Reference> ReferenceWalk(byte[] buffer, ControlMessageLayout layout, out bool malformed)
    {
        var found = new List<Reference>();
        malformed = false;
        long offset = 0;
        while (offset < buffer.Length)
        {
            long rest = buffer.Length - offset;
            if (rest < layout.HeaderSize)
            {
                malformed = true;
                break;
            }

            ulong declared = ReadLength(buffer.AsSpan((int)offset), layout);
            int level = BitConverter.ToInt32(buffer, (int)offset + layout.LengthSize);
            int type = BitConverter.ToInt32(buffer, (int)offset + layout.LengthSize + 4);
            if (declared < (ulong)layout.HeaderSize)
            {
                malformed = true;
                break;
            }

            int dataOffset = (int)offset + layout.HeaderSize;
            if (declared > (ulong)rest)
            {
                malformed = true;
                found.Add(new Reference(level, type, dataOffset, buffer.Length - dataOffset, Truncated: true));
                break;
            }

            found.Add(new Reference(level, type, dataOffset, (int)declared - layout.HeaderSize, Truncated: false));
            long step = ((long)declared + layout.Alignment - 1) / layout.Alignment * layout.Alignment;
            offset += Math.Min(step, rest);
        }

        return found;
    }

    private static ulong ReadLength(ReadOnlySpan<byte> header, ControlMessageLayout layout) =>
        layout.LengthSize == 8 ? MemoryMarshal.Read<ulong>(header) : MemoryMarshal.Read<uint>(header);

    private static byte[] Header(ControlMessageLayout layout, ulong declared, int level, int type) =>
        new ControlBuffer(layout).Header(declared, level, type).ToArray();

    private static byte[] Rights(ControlMessageLayout layout, int[] fds)
    {
        byte[] buffer = new byte[layout.SpaceForDescriptors(fds.Length)];
        var writer = new ControlMessageWriter(buffer, layout);
        writer.WriteRights(fds);
        return buffer;
    }

    private static ControlMessageLayout LayoutNamed(string name) => ControlBuffer.Layout(name);

    private sealed record Written(int Level, int Type, byte[] Data);

    private readonly record struct Reference(int Level, int Type, int DataOffset, int DataLength, bool Truncated);
}
