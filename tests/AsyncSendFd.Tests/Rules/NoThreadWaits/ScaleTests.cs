using System.Diagnostics;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;
using Xunit.Abstractions;

namespace AsyncSendFd.Tests.Rules.NoThreadWaits;

/// <summary>
/// Thousands of idle waiters cost nothing per wait of a working pair. The old poll(2) monitor rebuilt its watched
/// set on every wake: at 9,000 waiters a wait took about 7 ms, so the 1,000 round trips below needed some 14 s.
/// The bound is loose on purpose (timing belongs to the benchmark); it only tells O(1) from O(n).
/// </summary>
[Collection(DescriptorsCollection.Name)]
[Trait("Category", "Stress")]
public sealed class ScaleTests(ITestOutputHelper output)
{
    private const int IdleWaiters = 9_000;
    private const int RoundTrips = 1_000;

    [Fact]
    public async Task NineThousandIdleWaiters_DoNotSlowAWorkingPair_AndAllEndWhenCanceled()
    {
        using NoFileLimit limit = NoFileLimit.AtLeast(20_000);
        ulong soft = TestNative.GetNoFileLimit().Soft; // macOS may clamp the limit to kern.maxfilesperproc
        Assert.True(soft >= (2 * IdleWaiters) + 1024, $"precondition: RLIMIT_NOFILE {soft} is too low for {IdleWaiters} idle pairs");
        var idle = new List<SocketPair>(IdleWaiters);
        var waits = new List<Task<SafeFileHandle>>(IdleWaiters);
        using var cancel = new CancellationTokenSource();
        try
        {
            for (int i = 0; i < IdleWaiters; i++)
            {
                idle.Add(SocketPair.Create());
                waits.Add(idle[i].Right.ReceiveFdAsync(cancel.Token).AsTask());
            }

            using var working = SocketPair.Create();
            using SafeFileHandle file = Descriptors.TempFile();
            Task echo = Task.Run(async () =>
            {
                for (int i = 0; i < RoundTrips; i++)
                {
                    using SafeFileHandle received = await working.Right.ReceiveFdAsync();
                    await working.Right.SendFdAsync(received);
                }
            });

            var watch = Stopwatch.StartNew();
            for (int i = 0; i < RoundTrips; i++)
            {
                await working.Left.SendFdAsync(file);
                (await working.Left.ReceiveFdAsync()).Dispose();
            }

            await echo;
            output.WriteLine($"{RoundTrips} round trips beside {IdleWaiters} idle waiters: {watch.Elapsed.TotalMilliseconds / RoundTrips * 1000:0} us each");
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"{RoundTrips} round trips took {watch.Elapsed}");
            Assert.All(waits, w => Assert.False(w.IsCompleted));

            await cancel.CancelAsync();
            foreach (Task<SafeFileHandle> wait in waits)
            {
                await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait.WaitAsync(TimeSpan.FromSeconds(10)));
            }
        }
        finally
        {
            foreach (SocketPair pair in idle)
            {
                pair.Dispose();
            }
        }
    }
}
