using System.Runtime.InteropServices;
using AsyncSendFd.Native.Interop;
using AsyncSendFd.Tests.Support;
using static AsyncSendFd.Tests.Support.ControlBuffer;

namespace AsyncSendFd.Tests.Interop;

/// <summary>
/// <see cref="ControlMessageReader"/> against hostile and edge-case buffers, and <see cref="ControlMessageWriter"/>
/// round trips, in the Linux 64-bit, Linux 32-bit and macOS layouts. Buffers are built byte by byte (Support/ControlBuffer)
/// so the reader is not only checked against the writer.
/// </summary>
public sealed class ControlMessageReaderTests
{
    public static TheoryData<string> Layouts() => ControlBuffer.LayoutNames();

    public static TheoryData<string, ulong> HugeLengths() => new()
    {
        { "Linux64", ulong.MaxValue },
        { "Linux64", 0xFFFF_FFFFul },
        { "Linux64", 0x8000_0000ul },          // negative as an int
        { "Linux64", 0x1_0000_0014ul },        // 20 once cut to 32 bits: must not pass for a valid length
        { "Linux64", (ulong)long.MaxValue + 1 },
        { "Linux32", 0xFFFF_FFFFul },
        { "Linux32", 0x8000_0000ul },
        { "Darwin", 0xFFFF_FFFFul },
        { "Darwin", 0x8000_0000ul },
    };

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Reader_WhenBufferIsEmpty_ReturnsNothingAndIsNotMalformed(string layoutName)
    {
        var reader = new ControlMessageReader([], ControlBuffer.Layout(layoutName));

        Assert.False(reader.TryReadNext(out _));
        Assert.False(reader.IsMalformed);
        Assert.False(reader.TryReadNext(out _));
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Reader_WhenCmsgLenIsZero_StopsAndFlagsMalformed(string layoutName)
    {
        ControlMessageLayout layout = ControlBuffer.Layout(layoutName);
        byte[] buffer = new ControlBuffer(layout).RightsHeader(0).PadTo(layout.SpaceForDescriptors(2)).ToArray();

        var reader = new ControlMessageReader(buffer, layout);

        Assert.False(reader.TryReadNext(out _));
        Assert.True(reader.IsMalformed);
        Assert.False(reader.TryReadNext(out _));
        Assert.True(reader.IsMalformed);
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Reader_WhenCmsgLenIsSmallerThanTheHeader_StopsAndFlagsMalformed(string layoutName)
    {
        ControlMessageLayout layout = ControlBuffer.Layout(layoutName);
        for (int declared = 1; declared < layout.HeaderSize; declared++)
        {
            byte[] buffer = new ControlBuffer(layout).RightsHeader((ulong)declared).PadTo(64).ToArray();

            var reader = new ControlMessageReader(buffer, layout);

            Assert.False(reader.TryReadNext(out _));
            Assert.True(reader.IsMalformed, $"cmsg_len {declared}");
        }
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Reader_WhenCmsgLenIsLargerThanTheBuffer_ReturnsItOnceTruncatedWithDataClippedAndFlagsMalformed(string layoutName)
    {
        ControlMessageLayout layout = ControlBuffer.Layout(layoutName);
        // The header claims four descriptors; the buffer (msg_controllen) holds two and a half.
        byte[] buffer = new ControlBuffer(layout).RightsHeader((ulong)layout.Length(16)).Ints(11, 12).Bytes(0x7F, 2).ToArray();
        Assert.Equal(layout.HeaderSize + 10, buffer.Length);

        var reader = new ControlMessageReader(buffer, layout);

        Assert.True(reader.TryReadNext(out ControlMessage message));
        Assert.True(message.IsTruncated);
        Assert.True(reader.IsMalformed);
        Assert.Equal(layout.SocketLevel, message.Level);
        Assert.Equal(layout.RightsType, message.Type);
        Assert.Equal(10, message.Data.Length);
        Assert.Equal(buffer.AsSpan(layout.HeaderSize).ToArray(), message.Data.ToArray());
        Assert.Equal([11, 12], message.Descriptors.ToArray()); // the partial third descriptor is left out

        Assert.False(reader.TryReadNext(out _));
        Assert.True(reader.IsMalformed);
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Reader_WhenFewerBytesThanAHeaderRemain_StopsAndFlagsMalformed(string layoutName)
    {
        ControlMessageLayout layout = ControlBuffer.Layout(layoutName);
        for (int size = 1; size < layout.HeaderSize; size++)
        {
            byte[] buffer = new byte[size];
            buffer.AsSpan().Fill(0xFF);

            var reader = new ControlMessageReader(buffer, layout);

            Assert.False(reader.TryReadNext(out _));
            Assert.True(reader.IsMalformed, $"{size} bytes");
        }
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Reader_WhenTrailingBytesAfterAValidMessageAreShorterThanAHeader_ReturnsTheMessageThenFlagsMalformed(string layoutName)
    {
        ControlMessageLayout layout = ControlBuffer.Layout(layoutName);
        int space = layout.SpaceForDescriptors(1);
        byte[] buffer = new ControlBuffer(layout).Rights(9).PadTo(space + layout.HeaderSize - 1).ToArray();

        var reader = new ControlMessageReader(buffer, layout);

        Assert.True(reader.TryReadNext(out ControlMessage message));
        Assert.False(message.IsTruncated);
        Assert.Equal([9], message.Descriptors.ToArray());
        Assert.False(reader.IsMalformed);
        Assert.False(reader.TryReadNext(out _));
        Assert.True(reader.IsMalformed);
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Reader_WhenCredentialsPrecedeRights_ReturnsBothInOrderAtCmsgSpaceOffsets(string layoutName)
    {
        // What Linux delivers when SO_PASSCRED is on: SCM_CREDENTIALS (a 12-byte struct ucred) first, then SCM_RIGHTS.
        ControlMessageLayout layout = ControlBuffer.Layout(layoutName);
        byte[] buffer = new ControlBuffer(layout).Credentials(4242, 1000, 100).Rights(20, 21, 22).ToArray();
        Assert.Equal(layout.Space(UcredSize) + layout.SpaceForDescriptors(3), buffer.Length);

        var reader = new ControlMessageReader(buffer, layout);

        Assert.True(reader.TryReadNext(out ControlMessage credentials));
        Assert.Equal(layout.SocketLevel, credentials.Level);
        Assert.Equal(ScmCredentials, credentials.Type);
        Assert.Equal(UcredSize, credentials.Data.Length);
        Assert.Equal(4242, MemoryMarshal.Read<int>(credentials.Data));
        Assert.False(credentials.IsTruncated);

        Assert.True(reader.TryReadNext(out ControlMessage rights));
        Assert.Equal(layout.SocketLevel, rights.Level);
        Assert.Equal(layout.RightsType, rights.Type);
        Assert.Equal([20, 21, 22], rights.Descriptors.ToArray());
        Assert.False(rights.IsTruncated);

        Assert.False(reader.TryReadNext(out _));
        Assert.False(reader.IsMalformed);
    }

    [Fact]
    public void Reader_OnLinux64_FindsRightsAfterCredentialsAtOffset32()
    {
        ControlMessageLayout layout = ControlMessageLayout.Linux64;
        byte[] buffer = new ControlBuffer(layout).Header(28, 1, ScmCredentials).PadTo(32).Header(20, 1, 1).Ints(77).PadTo(32 + 24).ToArray();

        var reader = new ControlMessageReader(buffer, layout);

        Assert.True(reader.TryReadNext(out ControlMessage credentials));
        Assert.Equal(12, credentials.Data.Length);
        Assert.True(reader.TryReadNext(out ControlMessage rights));
        Assert.Equal([77], rights.Descriptors.ToArray());
        Assert.False(reader.TryReadNext(out _));
        Assert.False(reader.IsMalformed);
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Reader_WhenTheLastMessageOmitsTrailingPadding_ReadsItAndEndsCleanly(string layoutName)
    {
        ControlMessageLayout layout = ControlBuffer.Layout(layoutName);
        int firstSpace = layout.Space(UcredSize);
        // Credentials padded to CMSG_SPACE, then one descriptor ending exactly at CMSG_LEN (20 bytes on Linux64, not 24).
        byte[] buffer = new ControlBuffer(layout)
            .Header((ulong)layout.Length(UcredSize), layout.SocketLevel, ScmCredentials).PadTo(firstSpace)
            .RightsHeader((ulong)layout.Length(4)).Ints(31)
            .ToArray();
        Assert.Equal(firstSpace + layout.Length(4), buffer.Length);

        var reader = new ControlMessageReader(buffer, layout);

        Assert.True(reader.TryReadNext(out _));
        Assert.True(reader.TryReadNext(out ControlMessage rights));
        Assert.False(rights.IsTruncated);
        Assert.Equal([31], rights.Descriptors.ToArray());
        Assert.False(reader.TryReadNext(out _));
        Assert.False(reader.IsMalformed);
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Reader_WhenCmsgLenIsExactlyTheHeader_ReturnsAnEmptyMessage(string layoutName)
    {
        ControlMessageLayout layout = ControlBuffer.Layout(layoutName);
        byte[] buffer = new ControlBuffer(layout).RightsHeader((ulong)layout.HeaderSize).ToArray();

        var reader = new ControlMessageReader(buffer, layout);

        Assert.True(reader.TryReadNext(out ControlMessage message));
        Assert.True(message.Data.IsEmpty);
        Assert.True(message.Descriptors.IsEmpty);
        Assert.False(reader.TryReadNext(out _));
        Assert.False(reader.IsMalformed);
    }

    [Theory]
    [MemberData(nameof(HugeLengths))]
    public void Reader_WhenCmsgLenIsHuge_ReturnsTheMessageOnceTruncatedAndFlagsMalformed(string layoutName, ulong declared)
    {
        ControlMessageLayout layout = ControlBuffer.Layout(layoutName);
        byte[] buffer = new ControlBuffer(layout).RightsHeader(declared).Ints(3, 4).PadTo(layout.SpaceForDescriptors(2)).ToArray();

        var reader = new ControlMessageReader(buffer, layout);

        Assert.True(reader.TryReadNext(out ControlMessage message));
        Assert.True(message.IsTruncated);
        Assert.Equal(buffer.Length - layout.HeaderSize, message.Data.Length);
        Assert.Equal([3, 4], message.Descriptors.ToArray());
        Assert.True(reader.IsMalformed);
        Assert.False(reader.TryReadNext(out _));
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Reader_WhenABadHeaderFollowsAGoodOne_ReturnsTheGoodOneThenFlagsMalformed(string layoutName)
    {
        ControlMessageLayout layout = ControlBuffer.Layout(layoutName);
        int space = layout.SpaceForDescriptors(1);
        byte[] buffer = new ControlBuffer(layout).Rights(5).RightsHeader(0).PadTo(space * 2).ToArray();

        var reader = new ControlMessageReader(buffer, layout);

        Assert.True(reader.TryReadNext(out ControlMessage good));
        Assert.Equal([5], good.Descriptors.ToArray());
        Assert.False(reader.IsMalformed);
        Assert.False(reader.TryReadNext(out _));
        Assert.True(reader.IsMalformed);
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Writer_ThenReader_ForEveryCountFrom0To252_ReturnsTheSameDescriptors(string layoutName)
    {
        ControlMessageLayout layout = ControlBuffer.Layout(layoutName);
        Span<byte> buffer = stackalloc byte[layout.SpaceForDescriptors(252)];
        for (int n = 0; n <= 252; n++)
        {
            int[] fds = Enumerable.Range(1000 + n, n).ToArray();
            var writer = new ControlMessageWriter(buffer, layout);
            writer.WriteRights(fds);

            Assert.Equal(layout.SpaceForDescriptors(n), writer.BytesWritten);
            var reader = new ControlMessageReader(writer.Written, layout);
            Assert.True(reader.TryReadNext(out ControlMessage message), $"n = {n}");
            Assert.Equal(layout.SocketLevel, message.Level);
            Assert.Equal(layout.RightsType, message.Type);
            Assert.False(message.IsTruncated);
            Assert.Equal(fds, message.Descriptors.ToArray());
            Assert.False(reader.TryReadNext(out _));
            Assert.False(reader.IsMalformed, $"n = {n}");
        }
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Writer_WhenTheBufferIsOneByteTooSmall_ThrowsArgumentExceptionAndWritesNothing(string layoutName)
    {
        ControlMessageLayout layout = ControlBuffer.Layout(layoutName);
        foreach (int n in new[] { 0, 1, 3, 252 })
        {
            byte[] buffer = new byte[layout.SpaceForDescriptors(n) - 1];
            buffer.AsSpan().Fill(0xAA);
            int[] fds = new int[n];

            ArgumentException error = Assert.Throws<ArgumentException>(() =>
            {
                var writer = new ControlMessageWriter(buffer, layout);
                writer.WriteRights(fds);
            });

            Assert.Equal("data", error.ParamName);
            Assert.All(buffer, b => Assert.Equal(0xAA, b));
        }
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Writer_WhenASecondMessageDoesNotFit_ThrowsAndKeepsTheFirst(string layoutName)
    {
        ControlMessageLayout layout = ControlBuffer.Layout(layoutName);
        byte[] buffer = new byte[layout.SpaceForDescriptors(1) + layout.SpaceForDescriptors(2) - 1];
        int written = -1;

        Assert.Throws<ArgumentException>(() =>
        {
            var writer = new ControlMessageWriter(buffer, layout);
            writer.WriteRights([1]);
            written = writer.BytesWritten;
            writer.WriteRights([2, 3]);
        });

        Assert.Equal(layout.SpaceForDescriptors(1), written);
        var reader = new ControlMessageReader(buffer.AsSpan(0, written), layout);
        Assert.True(reader.TryReadNext(out ControlMessage first));
        Assert.Equal([1], first.Descriptors.ToArray());
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Writer_ZeroesEveryPaddingByte_AndTouchesNothingPastCmsgSpace(string layoutName)
    {
        ControlMessageLayout layout = ControlBuffer.Layout(layoutName);
        for (int dataLength = 0; dataLength <= 2 * layout.Alignment + 1; dataLength++)
        {
            byte[] buffer = new byte[128];
            buffer.AsSpan().Fill(0xAA);
            byte[] data = Enumerable.Repeat((byte)0x55, dataLength).ToArray();
            var writer = new ControlMessageWriter(buffer, layout);

            writer.Write(0x01020304, 0x05060708, data);

            int length = layout.Length(dataLength);
            int space = layout.Space(dataLength);
            Assert.Equal(space, writer.BytesWritten);
            ulong cmsgLen = layout.LengthSize == 8 ? MemoryMarshal.Read<ulong>(buffer) : MemoryMarshal.Read<uint>(buffer);
            Assert.Equal((ulong)length, cmsgLen);
            Assert.Equal(0x01020304, MemoryMarshal.Read<int>(buffer.AsSpan(layout.LevelOffset)));
            Assert.Equal(0x05060708, MemoryMarshal.Read<int>(buffer.AsSpan(layout.TypeOffset)));
            Assert.All(buffer[(layout.TypeOffset + 4)..layout.HeaderSize], b => Assert.Equal(0, b));
            Assert.Equal(data, buffer[layout.HeaderSize..length]);
            Assert.All(buffer[length..space], b => Assert.Equal(0, b));
            Assert.All(buffer[space..], b => Assert.Equal(0xAA, b));
        }
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Writer_PutsTheSecondMessageAtTheFirstOnesCmsgSpace(string layoutName)
    {
        ControlMessageLayout layout = ControlBuffer.Layout(layoutName);
        byte[] buffer = new byte[256];
        var writer = new ControlMessageWriter(buffer, layout);

        writer.Write(layout.SocketLevel, ScmCredentials, new byte[UcredSize]);
        writer.WriteRights([8, 9]);

        Assert.Equal(layout.Space(UcredSize) + layout.SpaceForDescriptors(2), writer.BytesWritten);
        Assert.Equal(layout.RightsType, MemoryMarshal.Read<int>(buffer.AsSpan(layout.Space(UcredSize) + layout.TypeOffset)));
        var reader = new ControlMessageReader(writer.Written, layout);
        Assert.True(reader.TryReadNext(out ControlMessage credentials));
        Assert.Equal(ScmCredentials, credentials.Type);
        Assert.True(reader.TryReadNext(out ControlMessage rights));
        Assert.Equal([8, 9], rights.Descriptors.ToArray());
        Assert.False(reader.TryReadNext(out _));
        Assert.False(reader.IsMalformed);
    }
}
