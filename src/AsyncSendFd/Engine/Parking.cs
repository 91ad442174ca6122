namespace AsyncSendFd.Engine;

/// <summary>
/// Where one of the engine's background threads (the disposal scan, the watchdog) parks while it has nothing to do.
/// The side that makes work reads one flag on its fast path and sets the event only when the thread has parked.
/// </summary>
internal sealed class Parking
{
    private readonly ManualResetEventSlim _wake = new(false);
    private int _parked = 1;
    private volatile bool _released;

    /// <summary>
    /// Wakes the thread if it is parked. The caller made its work visible with a full fence before this reads the
    /// flag, and the parking thread looks for work after its own exchange: one of the two sees the other.
    /// </summary>
    public void Unpark()
    {
        if (Volatile.Read(ref _parked) == 1 && Interlocked.Exchange(ref _parked, 0) == 1)
        {
            _wake.Set();
        }
    }

    /// <summary>
    /// Parks from the next <see cref="WaitWhileParked"/> on; the caller then looks for work that came first, and unparks
    /// if it finds any.
    /// </summary>
    public void Park()
    {
        _wake.Reset();
        Interlocked.Exchange(ref _parked, 1);
    }

    /// <summary>Blocks while parked, until <see cref="Unpark"/> or <see cref="Release"/>.</summary>
    public void WaitWhileParked()
    {
        while (Volatile.Read(ref _parked) == 1 && !_released)
        {
            _wake.Wait();
            if (Volatile.Read(ref _parked) == 1 && !_released)
            {
                // A late wake-up meant for an earlier park: every real one lowers the flag before it sets the event.
                _wake.Reset();
            }
        }
    }

    /// <summary>Lets the thread go for good, so that it sees its engine has ended.</summary>
    public void Release()
    {
        _released = true;
        _wake.Set();
    }
}
