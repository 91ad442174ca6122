using System.Collections.Concurrent;
using System.Runtime.Versioning;

namespace AsyncSendFd.Benchmarks.Chaos;

/// <summary>
/// Runs disposals on threads of their own, timed: a Dispose that blocks (as .NET's Socket.Dispose does while a reference
/// on its handle is held) is reported, and stalls neither the chaos nor the round.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class Disposer(ChaosRound round)
{
    private const int DisposeBoundMs = 1000;

    private readonly ConcurrentQueue<Thread> _threads = new();
    private readonly ConcurrentQueue<ManualResetEventSlim> _pooled = new();

    /// <summary>Starts <paramref name="body"/> on a new background thread, joined at the end of the round.</summary>
    /// <remarks>At the descriptor limit .NET cannot start a thread (OutOfMemoryException): the body then waits for a pool thread.</remarks>
    public void Start(string name, Action body)
    {
        void Run()
        {
            try
            {
                body();
            }
            catch (Exception e)
            {
                round.Violation(Violations.HarnessError, $"{name}: {e}");
            }
        }

        var thread = new Thread(Run) { IsBackground = true, Name = "chaos dispose" };
        if (TryStart(thread))
        {
            _threads.Enqueue(thread);
        }
        else
        {
            var done = new ManualResetEventSlim();
            ThreadPool.UnsafeQueueUserWorkItem(_ => { Run(); done.Set(); }, null);
            _pooled.Enqueue(done);
        }
    }

    /// <summary>Starts a thread unless the process is at its descriptor limit, where .NET cannot start one.</summary>
    public static bool TryStart(Thread thread)
    {
        try
        {
            thread.Start();
            return true;
        }
        catch (OutOfMemoryException)
        {
            return false;
        }
    }

    /// <summary>Runs <paramref name="dispose"/> under the watchdog: it must return within a second.</summary>
    public void Timed(string what, Lane lane, Action dispose)
    {
        CallRecord call = round.Calls.Begin(new CallRecord(what, lane) { DeadlineMs = DisposeBoundMs, DeadlineKind = Violations.DisposeBlocked });
        try
        {
            dispose();
        }
        finally
        {
            round.Calls.End(call);
        }
    }

    /// <summary>Disposes an endpoint's socket once, on its own thread.</summary>
    public void Dispose(Endpoint endpoint)
    {
        if (endpoint.TryClaimDisposal())
        {
            Start($"Dispose of {endpoint}", () => Timed($"Dispose of {endpoint} socket", endpoint.Lane, endpoint.DisposeNow));
        }
    }

    /// <summary>Waits for every disposal thread until <paramref name="deadline"/>.</summary>
    /// <returns>How many are still running (blocked in Dispose).</returns>
    public int JoinAll(long deadline)
    {
        int stuck = 0;
        foreach (Thread thread in _threads)
        {
            int left = (int)Math.Max(0, deadline - Environment.TickCount64);
            if (!thread.Join(left))
            {
                stuck++;
            }
        }

        foreach (ManualResetEventSlim done in _pooled)
        {
            int left = (int)Math.Max(0, deadline - Environment.TickCount64);
            if (!done.Wait(left))
            {
                stuck++;
            }
        }

        return stuck;
    }
}
