using System.Runtime.Versioning;
using AsyncSendFd.Engine;
using AsyncSendFd.Tests.Support;
using Linux = AsyncSendFd.Native.Interop.Linux;

namespace AsyncSendFd.Tests.Rules.NoThreadWaits;

/// <summary>
/// What the epoll backend asks for and what it makes of an event. The struct it passes is the interop layer's, whose
/// layout LinuxLayoutTests checks against the C compiler.
/// </summary>
[SupportedOSPlatform("linux")] // epoll
public sealed class EpollBackendTests
{
    [LinuxTheory]
    [InlineData((int)Interest.Read, Linux.LibC.EPOLLIN | Linux.LibC.EPOLLONESHOT)]
    [InlineData((int)Interest.Write, Linux.LibC.EPOLLOUT | Linux.LibC.EPOLLONESHOT)]
    [InlineData((int)Interest.Both, Linux.LibC.EPOLLIN | Linux.LibC.EPOLLOUT | Linux.LibC.EPOLLONESHOT)]
    public void EventsFor_ArmsOneShotLevelTriggered(int directions, uint expected)
    {
        var interest = (Interest)directions;
        Assert.Equal(expected, EpollBackend.EventsFor(interest));
        Assert.Equal(0u, EpollBackend.EventsFor(interest) & Linux.LibC.EPOLLET);
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
        Assert.Equal((Interest)expected, EpollBackend.ReadyFrom(events));
    }
}
