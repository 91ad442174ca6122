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

    private readonly ManualResetEventSlim _wake = new(false);
    private int _parked = 1;

    public Thread CreateThread() => new(Watch) { IsBackground = true, Name = "AsyncSendFd continuation watchdog" };

    /// <summary>An inline run began (published with a full fence before this reads the flag): wakes a parked watchdog.</summary>
    public void OnRunStarted()
    {
        if (Volatile.Read(ref _parked) == 1 && Interlocked.Exchange(ref _parked, 0) == 1)
        {
            _wake.Set();
        }
    }

    /// <summary>Wakes the thread so that it sees the engine has ended.</summary>
    public void Stop() => _wake.Set();

    private void Watch()
    {
        long seen = 0;
        long runsSeen = 0;
        int idleTicks = 0;
        while (!engine.HasEnded)
        {
            if (Volatile.Read(ref _parked) == 1)
            {
                _wake.Wait();
                if (Volatile.Read(ref _parked) == 1 && !engine.HasEnded)
                {
                    // A late wake-up meant for an earlier park: every real one lowers the flag before it sets the event.
                    _wake.Reset();
                }

                continue;
            }

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
                _wake.Reset();
                Interlocked.Exchange(ref _parked, 1);

                // A run that began before the flag went up is seen here; one after it sees the flag and wakes this thread.
                if (engine.InlineRun != 0)
                {
                    Interlocked.Exchange(ref _parked, 0);
                }
            }
        }
    }
}
