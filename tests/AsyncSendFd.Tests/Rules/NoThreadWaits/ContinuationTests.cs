using System.Diagnostics;
using System.Net.Sockets;
using AsyncSendFd.Engine;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;
using static AsyncSendFd.Tests.Support.Timeouts;

namespace AsyncSendFd.Tests.Rules.NoThreadWaits;

/// <summary>
/// Where a woken call continues, in the default configuration: on the poller thread that took its event, which hands
/// the kernel's wait to another poller when the continuation blocks, so a continuation that blocks holds up nobody
/// else, a blocking call made there works, and the context flows as with .NET's own sockets. Each failed on the earlier
/// single-thread engine with inline completions on: the sleeping continuation stalled every socket, and the blocking
/// call threw.
/// </summary>
[Collection(ThreadPoolCollection.Name)] // counts threads; nothing else may start any meanwhile
public sealed class ContinuationTests
{
    private const string PollerName = "AsyncSendFd readiness";

    [Fact]
    public async Task AContinuationSleepingTwoSeconds_DelaysNoOtherSocketsRoundTrip()
    {
        using var sleeper = SocketPair.Create();
        using var busy = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile();
        var sleeping = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        Task asleep = Task.Run(async () =>
        {
            (await sleeper.Right.ReceiveFdAsync().ConfigureAwait(false)).Dispose();
            sleeping.SetResult(Thread.CurrentThread.Name);
            Thread.Sleep(2000);
        });
        await Task.Delay(50); // waiting, so the send wakes it on a poller
        await sleeper.Left.SendFdAsync(file);
        string? sleptOn = await sleeping.Task.WaitAsync(Guard);

        using var stop = new CancellationTokenSource();
        Task echo = Task.Run(async () =>
        {
            while (true)
            {
                using SafeFileHandle there = await busy.Right.ReceiveFdAsync(stop.Token).ConfigureAwait(false);
                await busy.Right.SendFdAsync(there).ConfigureAwait(false);
            }
        });
        TimeSpan longest = await Task.Run(async () =>
        {
            TimeSpan longest = TimeSpan.Zero;
            var clock = Stopwatch.StartNew();
            while (clock.ElapsedMilliseconds < 1500)
            {
                long start = Stopwatch.GetTimestamp();
                await busy.Left.SendFdAsync(file).ConfigureAwait(false);
                (await busy.Left.ReceiveFdAsync().ConfigureAwait(false)).Dispose();
                TimeSpan elapsed = Stopwatch.GetElapsedTime(start);
                longest = elapsed > longest ? elapsed : longest;
            }

            return longest;
        });
        stop.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => echo.WaitAsync(Guard));

        await asleep.WaitAsync(Guard);
        Assert.Equal(PollerName, sleptOn); // the case this guards: the sleep held a poller
        Assert.True(longest < TimeSpan.FromMilliseconds(100), $"a round trip took {longest.TotalMilliseconds:F0} ms while a continuation slept");
    }

    [Fact]
    public async Task ABlockingReceive_InAContinuationOnAPoller_Works()
    {
        using var trigger = SocketPair.Create();
        using var other = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile();
        string? ranOn = null;

        Task<string> received = Task.Run(async () =>
        {
            (await trigger.Right.ReceiveFdAsync().ConfigureAwait(false)).Dispose();
            ranOn = Thread.CurrentThread.Name;
            using SafeFileHandle blocking = other.Right.ReceiveFd(); // waits on the engine this thread polls for
            return Descriptors.Target(blocking);
        });
        await Task.Delay(50); // waiting, so the send wakes it on a poller
        await trigger.Left.SendFdAsync(file);
        await Task.Delay(50);
        other.Left.SendFd(file);

        Assert.Equal(Descriptors.Target(file), await received.WaitAsync(Guard));
        Assert.Equal(PollerName, ranOn);
    }

    [Fact]
    public async Task TwoSocketObjectsOverOneDescriptor_BothWaitingToReceive_BothWake()
    {
        using var pair = SocketPair.Create(SocketType.Seqpacket);
        using var view = new Socket(new SafeSocketHandle(pair.Right.SafeHandle.DangerousGetHandle(), ownsHandle: false));
        using SafeFileHandle file = Descriptors.TempFile();

        Task<SafeFileHandle> first = pair.Right.ReceiveFdAsync().AsTask();
        await Task.Delay(50); // linked and armed first
        Task<SafeFileHandle> second = view.ReceiveFdAsync().AsTask();
        await Task.Delay(50);
        pair.Left.SendFd(file);
        pair.Left.SendFd(file);

        using SafeFileHandle one = await first.WaitAsync(Guard);
        using SafeFileHandle two = await second.WaitAsync(Guard);
        Assert.Equal(Descriptors.Target(file), Descriptors.Target(one));
        Assert.Equal(Descriptors.Target(file), Descriptors.Target(two));
    }

    [Fact]
    public async Task ABurstOfBlockingContinuations_AddsBoundedPollers_OtherSocketsStillWake_AndTheExtraPollersEndWhenIdle()
    {
        const int Burst = 64;
        using SafeFileHandle file = Descriptors.TempFile();
        SocketPair[] pairs = Enumerable.Range(0, Burst).Select(_ => SocketPair.Create()).ToArray();
        using var other = SocketPair.Create();
        // The shared engine's own count: other tests' engines, and extra pollers the shared one started before this
        // test for earlier tests' continuations, come and go meanwhile (each retires after its idle time).
        ReadinessEngine engine = SharedEngine();
        try
        {
            using var release = new ManualResetEventSlim(false);
            Task[] blocked = pairs.Select(p => Task.Run(async () =>
            {
                (await p.Right.ReceiveFdAsync().ConfigureAwait(false)).Dispose();
                release.Wait(Guard);
            })).ToArray();
            await Task.Delay(100); // all waiting
            foreach (SocketPair p in pairs)
            {
                p.Left.SendFd(file);
            }

            await Task.Delay(200);
            int pollersDuringTheBurst = engine.Pollers;
            var wakes = Stopwatch.StartNew();
            Task<SafeFileHandle> stillWakes = other.Right.ReceiveFdAsync().AsTask();
            other.Left.SendFd(file);
            (await stillWakes.WaitAsync(Guard)).Dispose();
            wakes.Stop();
            release.Set();
            await Task.WhenAll(blocked).WaitAsync(Guard);

            var idle = Stopwatch.StartNew();
            while (engine.Pollers > EngineHost.DefaultPollers && idle.Elapsed < TimeSpan.FromSeconds(ReadinessEngine.IdlePollerMilliseconds / 1000 * 3))
            {
                await Task.Delay(100);
            }

            Assert.InRange(pollersDuringTheBurst, EngineHost.DefaultPollers, ReadinessEngine.MaxPollers); // those woken in one batch went to the thread pool
            Assert.True(wakes.Elapsed < TimeSpan.FromSeconds(1), $"another socket's receive took {wakes.ElapsedMilliseconds} ms during the burst");
            Assert.Equal(EngineHost.DefaultPollers, engine.Pollers);
        }
        finally
        {
            foreach (SocketPair p in pairs)
            {
                p.Dispose();
            }
        }
    }

    [Fact]
    public async Task TheExecutionContext_FlowsAcrossAWait_AndNothingSetInAContinuationLeaksIntoAnother()
    {
        using var first = SocketPair.Create();
        using var second = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile();
        var local = new AsyncLocal<string?>();

        string? afterTheWait = await Task.Run(async () =>
        {
            local.Value = "first";
            (await Receive(first, file).ConfigureAwait(false)).Dispose();
            string? seen = local.Value;
            local.Value = "set in a continuation";
            return seen;
        }).WaitAsync(Guard);
        string? inAnotherFlow = await Task.Run(async () =>
        {
            (await Receive(second, file).ConfigureAwait(false)).Dispose();
            return local.Value;
        }).WaitAsync(Guard);

        Assert.Equal("first", afterTheWait);
        Assert.Null(inAnotherFlow); // it started with no value, and a poller carries none over
    }

    private static async Task<SafeFileHandle> Receive(SocketPair pair, SafeFileHandle file)
    {
        ValueTask<SafeFileHandle> receiving = pair.Right.ReceiveFdAsync();
        _ = Task.Run(async () =>
        {
            await Task.Delay(20).ConfigureAwait(false);
            pair.Left.SendFd(file);
        });
        return await receiving.ConfigureAwait(false);
    }

    private static ReadinessEngine SharedEngine()
    {
        Assert.True(EngineHost.Shared.TryGetEngine(out ReadinessEngine? engine).IsSuccess);
        return engine!;
    }
}
