using System.Runtime.Versioning;
using AsyncSendFd.Engine;
using AsyncSendFd.Tests.Support;
using Linux = AsyncSendFd.Native.Interop.Linux;

namespace AsyncSendFd.Tests.Rules.NoThreadWaits;

/// <summary>
/// The engine's reading of struct epoll_event. LinuxLayoutTests checks the struct of this machine's architecture
/// against the C compiler; these check that the engine's table agrees with both structs.
/// </summary>
[SupportedOSPlatform("linux")] // epoll
public sealed unsafe class EpollEventLayoutTests
{
    [LinuxFact]
    public void Layouts_MatchTheInteropStructs()
    {
        Assert.Equal(sizeof(Linux.epoll_event_packed), EpollEventLayout.Packed.Size);
        Assert.Equal(sizeof(Linux.epoll_event), EpollEventLayout.Aligned.Size);
        Linux.epoll_event_packed packed = default;
        Linux.epoll_event aligned = default;
        Assert.Equal(EpollEventLayout.Packed.DataOffset, (int)((byte*)&packed.data - (byte*)&packed));
        Assert.Equal(EpollEventLayout.Aligned.DataOffset, (int)((byte*)&aligned.data - (byte*)&aligned));
    }

    [LinuxFact]
    public void WriteThenRead_RoundTripsEveryEventOfAnArray()
    {
        byte* array = stackalloc byte[3 * 16];
        foreach (EpollEventLayout layout in new[] { EpollEventLayout.Packed, EpollEventLayout.Aligned })
        {
            for (int i = 0; i < 3; i++)
            {
                layout.Write(array + (i * layout.Size), (uint)i + 1, ulong.MaxValue - (ulong)i);
            }

            for (int i = 0; i < 3; i++)
            {
                Assert.Equal(((uint)i + 1, ulong.MaxValue - (ulong)i), layout.Read(array, i));
            }
        }
    }

    [LinuxTheory]
    [InlineData((int)Interest.Read, Linux.LibC.EPOLLIN | Linux.LibC.EPOLLONESHOT)]
    [InlineData((int)Interest.Write, Linux.LibC.EPOLLOUT | Linux.LibC.EPOLLONESHOT)]
    [InlineData((int)Interest.Both, Linux.LibC.EPOLLIN | Linux.LibC.EPOLLOUT | Linux.LibC.EPOLLONESHOT)]
    public void EventsFor_ArmsOneShotLevelTriggered(int directions, uint expected)
    {
        var interest = (Interest)directions;
        Assert.Equal(expected, EpollEventLayout.EventsFor(interest));
        Assert.Equal(0u, EpollEventLayout.EventsFor(interest) & Linux.LibC.EPOLLET);
    }

    [LinuxTheory]
    [InlineData(Linux.LibC.EPOLLIN, (int)Interest.Read)]
    [InlineData(Linux.LibC.EPOLLRDHUP, (int)Interest.Read)]
    [InlineData(Linux.LibC.EPOLLOUT, (int)Interest.Write)]
    [InlineData(Linux.LibC.EPOLLHUP, (int)Interest.Both)]
    [InlineData(Linux.LibC.EPOLLERR, (int)Interest.Both)]
    [InlineData(Linux.LibC.EPOLLIN | Linux.LibC.EPOLLOUT, (int)Interest.Both)]
    public void ReadyFrom_WakesTheDirectionsWorthRetrying(uint events, int expected)
    {
        Assert.Equal((Interest)expected, EpollEventLayout.ReadyFrom(events));
    }
}
