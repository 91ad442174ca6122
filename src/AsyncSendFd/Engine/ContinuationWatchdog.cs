namespace AsyncSendFd.Engine;

/// <summary>
/// Watches the continuation that the holder of the kernel's wait runs: one still running a tick after it was first
/// seen (it blocks, or runs long) loses the wait to another poller, as Go's sysmon retakes a processor from a thread
/// stuck in a syscall. It ticks every millisecond while continuations run and parks once none has begun for a while,
/// so an idle process pays nothing, and the poller's fast path pays one flag read.
/// </summary>
internal sealed class ContinuationWatchdog(ReadinessEngine engine)
{
    private const int TickMilliseconds = 1;

    private const int IdleTicksBeforeParking = 64;

    private readonly Parking _parking = new();

    public Thread CreateThread() => new(Watch) { IsBackground = true, Name = "AsyncSendFd continuation watchdog" };

    /// <summary>An inline run began (published with a full fence before this): wakes a parked watchdog.</summary>
    public void OnRunStarted() => _parking.Unpark();

    /// <summary>Lets the thread go, so that it sees the engine has ended.</summary>
    public void Stop() => _parking.Release();

    private void Watch()
    {
        long seen = 0;
        long runsSeen = 0;
        int idleTicks = 0;
        while (!engine.HasEnded)
        {
            _parking.WaitWhileParked();
            Thread.Sleep(TickMilliseconds);
            long running = engine.InlineRun;
            if (running != 0 && running == seen)
            {
                engine.TryHandOff(running);
            }

            seen = running;
            long runs = engine.InlineRuns;
            idleTicks = running == 0 && runs == runsSeen ? idleTicks + 1 : 0;
            runsSeen = runs;
            if (idleTicks >= IdleTicksBeforeParking)
            {
                idleTicks = 0;
                _parking.Park();
                if (engine.InlineRun != 0)
                {
                    _parking.Unpark(); // a run that began before the park
                }
            }
        }
    }
}
