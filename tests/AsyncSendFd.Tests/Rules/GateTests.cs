using AsyncSendFd.Sockets;
using static AsyncSendFd.Tests.Support.Timeouts;

namespace AsyncSendFd.Tests.Rules;

/// <summary>
/// README rule "Messages stay whole" rests on the per-direction gate: one holder at a time, whatever mix of blocking,
/// async, timed-out and canceled callers, and a caller that gives up never strands the callers behind it.
/// </summary>
public sealed class GateTests
{
    [Fact]
    public async Task ManyBlockingAndAsyncCallers_HoldTheGateOneAtATime()
    {
        var gate = new Gate();
        int inside = 0;
        int entries = 0;

        async Task Async()
        {
            for (int i = 0; i < 500; i++)
            {
                await gate.EnterAsync(default);
                Assert.Equal(1, Interlocked.Increment(ref inside));
                await Task.Yield();
                Interlocked.Decrement(ref inside);
                Interlocked.Increment(ref entries);
                gate.Exit();
            }
        }

        void Blocking()
        {
            for (int i = 0; i < 500; i++)
            {
                Assert.True(gate.TryEnter() || gate.Enter(Timeout.Infinite));
                Assert.Equal(1, Interlocked.Increment(ref inside));
                Thread.SpinWait(50);
                Interlocked.Decrement(ref inside);
                Interlocked.Increment(ref entries);
                gate.Exit();
            }
        }

        await Task.WhenAll(Task.Run(Async), Task.Run(Async), Task.Run(Blocking), Task.Run(Blocking)).WaitAsync(Guard);

        Assert.Equal(2000, entries);
        Assert.True(gate.TryEnter()); // left free
    }

    [Fact]
    public async Task ACallerThatTimesOutOrIsCanceled_LeavesTheQueue_AndTheNextStillGetsItsTurn()
    {
        var gate = new Gate();
        Assert.True(gate.TryEnter());
        using var cancel = new CancellationTokenSource();

        Task canceled = gate.EnterAsync(cancel.Token).AsTask();
        Assert.False(gate.Enter(50)); // timed out behind the holder
        Task next = gate.EnterAsync(default).AsTask();
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => canceled.WaitAsync(Guard));
        Assert.False(next.IsCompleted);

        gate.Exit();
        await next.WaitAsync(Guard); // the turn went to the one still queued
        Assert.False(gate.TryEnter());
        gate.Exit();
        Assert.True(gate.TryEnter());
    }
}
