namespace AsyncSendFd.Benchmarks.Chaos;

/// <summary>
/// Holds the thread pool at the size it has now, until disposed. For a process held at its descriptor limit: there no
/// .NET thread can start, and the runtime aborts the process ("Out of memory.") when its pool adds a worker.
/// </summary>
internal sealed class ThreadPoolHold : IDisposable
{
    private readonly int _maximum;

    public ThreadPoolHold()
    {
        ThreadPool.GetMinThreads(out int minimum, out _);
        ThreadPool.GetMaxThreads(out _maximum, out int completionPortMaximum);
        ThreadPool.SetMaxThreads(Math.Max(minimum, ThreadPool.ThreadCount), completionPortMaximum);
    }

    public void Dispose()
    {
        ThreadPool.GetMaxThreads(out _, out int completionPortMaximum);
        ThreadPool.SetMaxThreads(_maximum, completionPortMaximum);
    }
}
