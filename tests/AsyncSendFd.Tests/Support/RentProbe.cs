using System.Diagnostics.Tracing;

namespace AsyncSendFd.Tests.Support;

/// <summary>
/// Runs a check each time one thread rents from <c>ArrayPool.Shared</c>, which string interpolation does as it
/// starts building a message: a test can see what was still open when the library began to allocate an exception.
/// </summary>
/// <remarks>The event is written synchronously on the renting thread, so the check sees the state at that moment.</remarks>
internal sealed class RentProbe : EventListener
{
    private readonly Lock _lock = new();
    private readonly List<bool> _results = [];
    private volatile Func<bool>? _check;
    private int _threadId = -1;

    /// <summary>What the check returned at each rent while armed, in order.</summary>
    public IReadOnlyList<bool> Results
    {
        get
        {
            lock (_lock)
            {
                return [.. _results];
            }
        }
    }

    /// <summary>Watches the calling thread until <see cref="Disarm"/>.</summary>
    public void Arm(Func<bool> check)
    {
        _threadId = Environment.CurrentManagedThreadId;
        _check = check;
    }

    public void Disarm() => _check = null;

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "System.Buffers.ArrayPoolEventSource")
        {
            EnableEvents(eventSource, EventLevel.Verbose);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        Func<bool>? check = _check;
        if (check is not null && eventData.EventName == "BufferRented" && Environment.CurrentManagedThreadId == _threadId)
        {
            bool result = check();
            lock (_lock)
            {
                _results.Add(result);
            }
        }
    }
}
