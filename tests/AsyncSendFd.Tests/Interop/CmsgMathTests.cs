using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using AsyncSendFd.Native.Interop;
using AsyncSendFd.Tests.Support;
using Linux = AsyncSendFd.Native.Interop.Linux;

namespace AsyncSendFd.Tests.Interop;

/// <summary>
/// The CMSG_* arithmetic of the three layouts against the C macros' formulas (glibc's bits/socket.h, xnu's
/// bsd/sys/socket.h), the cmsg_len the writer emits, and the Linux CMSG_FIRSTHDR/CMSG_NXTHDR/CMSG_DATA walk over a
/// real buffer.
/// </summary>
public sealed class CmsgMathTests
{
    private static ControlMessageLayout LayoutNamed(string name) => ControlBuffer.Layout(name);

    public static TheoryData<string> Layouts() => ControlBuffer.LayoutNames();

    public static TheoryData<string, int> LayoutsAndCounts()
    {
        var data = new TheoryData<string, int>();
        foreach (string layout in new[] { "Linux64", "Linux32", "Darwin" })
        {
            foreach (int n in new[] { 0, 1, 2, 3, 252 })
            {
                data.Add(layout, n);
            }
        }

        return data;
    }

    [Theory]
    [InlineData(0, 16, 16)]
    [InlineData(1, 20, 24)]
    [InlineData(2, 24, 24)]
    [InlineData(3, 28, 32)]
    [InlineData(252, 1024, 1024)]
    public void Linux64_ForNDescriptors_LenIs16Plus4nAndSpaceIs16PlusAlign8Of4n(int n, int len, int space)
    {
        ControlMessageLayout layout = ControlMessageLayout.Linux64;

        Assert.Equal(16, layout.HeaderSize);
        Assert.Equal(8, layout.Alignment);
        Assert.Equal(len, layout.Length(4 * n));
        Assert.Equal(space, layout.Space(4 * n));
        Assert.Equal(space, layout.SpaceForDescriptors(n));
        Assert.Equal(16 + (4 * n), len);
        Assert.Equal(16 + (((4 * n) + 7) & ~7), space);
    }

    [Theory]
    [InlineData("Linux32", 0, 12)]
    [InlineData("Linux32", 1, 16)]
    [InlineData("Linux32", 2, 20)]
    [InlineData("Linux32", 3, 24)]
    [InlineData("Linux32", 252, 1020)]
    [InlineData("Darwin", 0, 12)]
    [InlineData("Darwin", 1, 16)]
    [InlineData("Darwin", 2, 20)]
    [InlineData("Darwin", 3, 24)]
    [InlineData("Darwin", 252, 1020)]
    public void FourByteAlignedLayouts_ForNDescriptors_LenAndSpaceAre12Plus4n(string layoutName, int n, int expected)
    {
        ControlMessageLayout layout = LayoutNamed(layoutName);

        Assert.Equal(12, layout.HeaderSize);
        Assert.Equal(4, layout.Alignment);
        Assert.Equal(expected, layout.Length(4 * n));
        Assert.Equal(expected, layout.Space(4 * n));
        Assert.Equal(expected, layout.SpaceForDescriptors(n));
        Assert.Equal(12 + (4 * n), expected);
    }

    [Fact]
    public void Layouts_HaveTheirPlatformsHeaderShapeAndLevels()
    {
        Assert.Equal((8, 8, 12, 1, 1), Shape(ControlMessageLayout.Linux64));
        Assert.Equal((4, 4, 8, 1, 1), Shape(ControlMessageLayout.Linux32));
        Assert.Equal((4, 4, 8, 0xffff, 1), Shape(ControlMessageLayout.Darwin));
        Assert.NotEqual(ControlMessageLayout.Linux32, ControlMessageLayout.Darwin);

        static (int, int, int, int, int) Shape(ControlMessageLayout l) =>
            (l.LengthSize, l.LevelOffset, l.TypeOffset, l.SocketLevel, l.RightsType);
    }

    [Fact]
    public void Linux64_CredentialsSpace_Is32()
    {
        // SCM_CREDENTIALS carries a 12-byte struct ucred: CMSG_SPACE(12) = 16 + 16.
        Assert.Equal(28, ControlMessageLayout.Linux64.Length(12));
        Assert.Equal(32, ControlMessageLayout.Linux64.Space(12));
    }

    [Theory]
    [MemberData(nameof(LayoutsAndCounts))]
    public void Writer_ForNDescriptors_WritesCmsgLenAsCmsgLenNeverCmsgSpace(string layoutName, int n)
    {
        ControlMessageLayout layout = LayoutNamed(layoutName);
        Span<byte> buffer = stackalloc byte[2048];
        var writer = new ControlMessageWriter(buffer, layout);
        int[] fds = Enumerable.Range(100, n).ToArray();

        writer.WriteRights(fds);

        ulong cmsgLen = layout.LengthSize == 8 ? MemoryMarshal.Read<ulong>(buffer) : MemoryMarshal.Read<uint>(buffer);
        Assert.Equal((ulong)layout.Length(4 * n), cmsgLen);
        Assert.Equal(layout.SpaceForDescriptors(n), writer.BytesWritten);
        if (layout.Space(4 * n) != layout.Length(4 * n))
        {
            Assert.NotEqual((ulong)layout.Space(4 * n), cmsgLen);
        }
    }

    [Fact]
    public void Writer_ForOneDescriptorOnLinux64_WritesCmsgLen20NotSpace24()
    {
        // The bug that makes the kernel send a bogus fd 0 when cmsg_len is CMSG_SPACE.
        Span<byte> buffer = stackalloc byte[64];
        var writer = new ControlMessageWriter(buffer, ControlMessageLayout.Linux64);

        writer.WriteRights([7]);

        Assert.Equal(20ul, MemoryMarshal.Read<ulong>(buffer));
        Assert.Equal(24, writer.BytesWritten);
    }

    [SupportedOSPlatform("linux")] // the Linux CMSG_* functions
    [LinuxFact]
    public unsafe void LinuxCmsgWalk_OverTwoMessages_FindsBothThenStops()
    {
        ControlMessageLayout layout = Linux.LibC.ControlMessageLayout;
        byte* control = stackalloc byte[128];
        var writer = new ControlMessageWriter(new Span<byte>(control, 128), layout);
        var credentials = new Linux.ucred { pid = 42, uid = 1000, gid = 100 };
        writer.Write(Linux.LibC.SOL_SOCKET, Linux.LibC.SCM_CREDENTIALS, new ReadOnlySpan<byte>(&credentials, sizeof(Linux.ucred)));
        writer.WriteRights([5, 6]);
        var msg = new Linux.msghdr { msg_control = control, msg_controllen = (nuint)writer.BytesWritten };

        Linux.cmsghdr* first = Linux.LibC.CMSG_FIRSTHDR(&msg);
        Assert.True(first == (Linux.cmsghdr*)control);
        Assert.Equal(Linux.LibC.CMSG_LEN(12), first->cmsg_len);
        Assert.Equal(Linux.LibC.SOL_SOCKET, first->cmsg_level);
        Assert.Equal(Linux.LibC.SCM_CREDENTIALS, first->cmsg_type);
        Assert.True(Linux.LibC.CMSG_DATA(first) == control + sizeof(Linux.cmsghdr));
        Assert.Equal(42, ((Linux.ucred*)Linux.LibC.CMSG_DATA(first))->pid);

        Linux.cmsghdr* second = Linux.LibC.CMSG_NXTHDR(&msg, first);
        Assert.True(second == (Linux.cmsghdr*)(control + (int)Linux.LibC.CMSG_SPACE(12)));
        Assert.Equal(Linux.LibC.CMSG_LEN(8), second->cmsg_len);
        Assert.Equal(Linux.LibC.SCM_RIGHTS, second->cmsg_type);
        Assert.Equal(5, ((int*)Linux.LibC.CMSG_DATA(second))[0]);
        Assert.Equal(6, ((int*)Linux.LibC.CMSG_DATA(second))[1]);

        Assert.True(Linux.LibC.CMSG_NXTHDR(&msg, second) == null);
    }

    [SupportedOSPlatform("linux")] // the Linux CMSG_* functions
    [LinuxFact]
    public unsafe void LinuxCmsgFirstHdr_WhenControlIsShorterThanAHeader_ReturnsNull()
    {
        byte* control = stackalloc byte[16];
        var msg = new Linux.msghdr { msg_control = control, msg_controllen = (nuint)sizeof(Linux.cmsghdr) - 1 };

        Assert.True(Linux.LibC.CMSG_FIRSTHDR(&msg) == null);

        msg.msg_controllen = 0;
        Assert.True(Linux.LibC.CMSG_FIRSTHDR(&msg) == null);
    }

    [SupportedOSPlatform("linux")] // the Linux CMSG_* functions
    [LinuxFact]
    public unsafe void LinuxCmsgNxtHdr_WhenCmsgLenIsShorterThanAHeader_ReturnsNull()
    {
        byte* control = stackalloc byte[64];
        new Span<byte>(control, 64).Clear();
        var msg = new Linux.msghdr { msg_control = control, msg_controllen = 64 };
        var first = (Linux.cmsghdr*)control;

        first->cmsg_len = 0;
        Assert.True(Linux.LibC.CMSG_NXTHDR(&msg, first) == null);

        first->cmsg_len = (nuint)sizeof(Linux.cmsghdr) - 1;
        Assert.True(Linux.LibC.CMSG_NXTHDR(&msg, first) == null);
    }

    [SupportedOSPlatform("linux")] // the Linux CMSG_* functions
    [LinuxTheory]
    [InlineData(ulong.MaxValue)]
    [InlineData(ulong.MaxValue - 15)]
    [InlineData(ulong.MaxValue - 63)]
    [InlineData(0x1_0000_0010ul)]
    [InlineData(65ul)]
    public unsafe void LinuxCmsgNxtHdr_WhenCmsgLenRunsPastTheBuffer_ReturnsNull(ulong cmsgLen)
    {
        // A length near 2^64 must not wrap the pointer back into (or before) the buffer.
        byte* control = stackalloc byte[64];
        new Span<byte>(control, 64).Clear();
        var msg = new Linux.msghdr { msg_control = control, msg_controllen = 64 };
        var first = (Linux.cmsghdr*)control;
        first->cmsg_len = (nuint)cmsgLen;

        Assert.True(Linux.LibC.CMSG_NXTHDR(&msg, first) == null);
    }

    [SupportedOSPlatform("linux")] // the Linux CMSG_* functions
    [LinuxFact]
    public unsafe void LinuxCmsgNxtHdr_WhenNextCmsgLenRunsPastTheBuffer_ReturnsNull()
    {
        byte* control = stackalloc byte[64];
        new Span<byte>(control, 64).Clear();
        var msg = new Linux.msghdr { msg_control = control, msg_controllen = 64 };
        var first = (Linux.cmsghdr*)control;
        first->cmsg_len = Linux.LibC.CMSG_LEN(4);
        var next = (Linux.cmsghdr*)(control + (int)Linux.LibC.CMSG_SPACE(4));

        next->cmsg_len = unchecked((nuint)ulong.MaxValue);
        Assert.True(Linux.LibC.CMSG_NXTHDR(&msg, first) == null);

        next->cmsg_len = 64;
        Assert.True(Linux.LibC.CMSG_NXTHDR(&msg, first) == null);

        next->cmsg_len = Linux.LibC.CMSG_LEN(4);
        Assert.True(Linux.LibC.CMSG_NXTHDR(&msg, first) == next);
    }
}
