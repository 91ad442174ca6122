// KqueueEvents and the Darwin structs are marked for macOS. These tests run the pure translation on Linux;
// nothing here calls into macOS, so the platform analyzer's warning does not apply.
#pragma warning disable CA1416

using AsyncSendFd.Engine;
using Darwin = AsyncSendFd.Native.Interop.Darwin;

namespace AsyncSendFd.Tests.Rules.NoThreadWaits;

/// <summary>
/// What kqueue means to the engine, checked on Linux: the macOS backend itself is only the kevent(2) calls
/// around these functions.
/// </summary>
public sealed class KqueueEventsTests
{
    private const long Token = 0x0000_0007_0000_0003;

    public static TheoryData<int, short[]> Directions() => new()
    {
        { (int)Interest.Read, [Darwin.LibC.EVFILT_READ] },
        { (int)Interest.Write, [Darwin.LibC.EVFILT_WRITE] },
        { (int)Interest.Both, [Darwin.LibC.EVFILT_READ, Darwin.LibC.EVFILT_WRITE] },
        { (int)Interest.None, [] },
    };

    [Theory]
    [MemberData(nameof(Directions))]
    public void WriteChanges_ArmsEachDirection_OneShotWithReceipt(int directions, short[] filters)
    {
        var added = (Interest)directions;
        var changes = new Darwin.kevent[2];

        int count = KqueueEvents.WriteChanges(42, (ulong)Token, added, changes);

        Assert.Equal(filters, changes[..count].Select(c => c.filter));
        foreach (Darwin.kevent change in changes[..count])
        {
            Assert.Equal((nuint)42, change.ident);
            Assert.Equal(Darwin.LibC.EV_ADD | Darwin.LibC.EV_ONESHOT | Darwin.LibC.EV_RECEIPT, change.flags);
            Assert.Equal(0u, change.fflags);
            Assert.Equal(Token, (long)change.udata);
        }
    }

    public static TheoryData<short, ushort, int> Reported() => new()
    {
        { Darwin.LibC.EVFILT_READ, 0, (int)Interest.Read },
        { Darwin.LibC.EVFILT_READ, Darwin.LibC.EV_EOF, (int)Interest.Read },
        { Darwin.LibC.EVFILT_WRITE, 0, (int)Interest.Write },
        { Darwin.LibC.EVFILT_WRITE, Darwin.LibC.EV_EOF | Darwin.LibC.EV_ERROR, (int)Interest.Write },
    };

    [Theory]
    [MemberData(nameof(Reported))]
    public void TryDecode_MapsTheFilterToItsDirection_WithTheToken(short filter, ushort flags, int expected)
    {
        var reported = new Darwin.kevent { ident = 42, filter = filter, flags = flags, udata = unchecked((nint)Token) };

        Assert.True(KqueueEvents.TryDecode(reported, out ReadinessEvent decoded));
        Assert.Equal(new ReadinessEvent((ulong)Token, (Interest)expected), decoded);
    }

    [Fact]
    public void TryDecode_SkipsAnEventOfAnotherFilter()
    {
        var other = new Darwin.kevent { ident = 0, filter = Darwin.LibC.EVFILT_USER, flags = Darwin.LibC.EV_CLEAR };

        Assert.False(KqueueEvents.TryDecode(other, out _));
    }

    [Theory]
    [InlineData((ushort)0x4000, 0, 0)]
    [InlineData((ushort)0x4000, 9, 9)]
    [InlineData((ushort)0, 9, 0)]
    public void ErrnoOf_ReadsTheReceiptsErrno(ushort flags, int data, int expected)
    {
        var receipt = new Darwin.kevent { flags = flags, data = data };

        Assert.Equal(expected, KqueueEvents.ErrnoOf(receipt));
    }
}
