using AsyncSendFd.Syscalls;

namespace AsyncSendFd.Sending;

/// <summary>
/// How long a send to an explicit address waits before retrying when the destination is full. Linux reports an
/// unconnected datagram socket writable whatever the destination's queue holds, so readiness cannot say when to
/// retry: the wait doubles from 1 ms to 32 ms, which keeps a stalled sender far below 1% of a core and resumes it
/// within about 32 ms of the destination draining.
/// </summary>
internal struct DestinationBackoff
{
    private const int FirstMilliseconds = 1;
    private const int LongestMilliseconds = 32;

    private int _next;

    public int NextMilliseconds()
    {
        int delay = _next == 0 ? FirstMilliseconds : _next;
        _next = Math.Min(delay * 2, LongestMilliseconds);
        return delay;
    }

    /// <summary>Sleeps before a blocking retry, within the call's remaining timeout.</summary>
    /// <returns><see cref="Errno.Success"/>, or <see cref="Errno.ETIMEDOUT"/> when no time is left.</returns>
    public Errno Sleep(int timeoutMilliseconds)
    {
        if (timeoutMilliseconds == 0)
        {
            return Errno.ETIMEDOUT;
        }

        int delay = NextMilliseconds();
        Engine.ReadinessEngine.BeforeBlockingWait();
        Thread.Sleep(timeoutMilliseconds < 0 ? delay : Math.Min(delay, timeoutMilliseconds));
        return Errno.Success;
    }
}
