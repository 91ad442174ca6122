using System.Net.Sockets;
using System.Runtime.Versioning;
using AsyncSendFd.Engine;
using AsyncSendFd.Sockets;
using AsyncSendFd.Syscalls;
using AsyncSendFd.Tests.Support;
using static AsyncSendFd.Tests.Support.Timeouts;
using Linux = AsyncSendFd.Native.Interop.Linux;

namespace AsyncSendFd.Tests.Rules.NoThreadWaits;

/// <summary>
/// Failures of the engine reach the waiting calls as errno, never as a hung wait or a spinning thread, and a failed
/// start is tried again by the next wait. The old monitor looped on any poll(2) error at 100% of a core with every
/// wait hung, and cached a failed start for the life of the process.
/// </summary>
[Collection(DescriptorsCollection.Name)]
[SupportedOSPlatform("linux")] // drives the epoll backend
public sealed class EngineFailureTests
{
    [LinuxFact]
    public async Task WaitFailure_ReachesTheWaiterAsItsErrno_AndTheThreadStops()
    {
        var backend = new FailingBackend();
        var host = new EngineHost((out IReadinessBackend? created) => { created = backend; return Errno.Success; }, pollers: 3, alwaysInline: false);
        using var pair = SocketPair.Create();
        var readiness = new SocketReadiness(pair.Right.SafeHandle, host);

        ValueTask<Errno> waiting = readiness.WaitAsync(Interest.Read, (int)pair.Right.SafeHandle.DangerousGetHandle(), default);
        backend.FailNextWait(Linux.LibC.EINVAL);
        Errno outcome = await waiting.AsTask().WaitAsync(Guard);

        Assert.Equal(Linux.LibC.EINVAL, outcome.Value);
        var thrown = Assert.IsType<SocketException>(Exceptions.FromErrno(outcome, pair.Right));
        Assert.Equal(SocketError.InvalidArgument, thrown.SocketErrorCode);
        await Task.Delay(100); // every other poller's wait (50 ms here) has ended and seen the failure
        int waitsAfterFailure = backend.Waits;
        await Task.Delay(300);
        Assert.Equal(waitsAfterFailure, backend.Waits); // the pollers left; none spins on the error
    }

    [LinuxFact]
    public async Task AfterAFailure_TheNextWait_StartsANewEngine()
    {
        int created = 0;
        var first = new FailingBackend();
        var host = new EngineHost(
            (out IReadinessBackend? backend) =>
            {
                backend = Interlocked.Increment(ref created) == 1 ? first : CreateEpoll();
                return Errno.Success;
            },
            pollers: 3,
            alwaysInline: false);
        using var pair = SocketPair.Create();
        var readiness = new SocketReadiness(pair.Right.SafeHandle, host);
        int fd = (int)pair.Right.SafeHandle.DangerousGetHandle();
        ValueTask<Errno> failing = readiness.WaitAsync(Interest.Read, fd, default);
        first.FailNextWait(Linux.LibC.ENOMEM);
        Assert.Equal(Linux.LibC.ENOMEM, (await failing.AsTask().WaitAsync(Guard)).Value);

        ValueTask<Errno> working = readiness.WaitAsync(Interest.Read, fd, default);
        pair.Left.Send([1]);

        Assert.Equal(Errno.Success, await working.AsTask().WaitAsync(Guard));
        Assert.Equal(2, created);
    }

    [LinuxFact]
    public async Task AFailedStart_IsNotCached_TheNextWaitStartsTheEngine()
    {
        var host = new EngineHost(EngineHost.CreatePlatformBackend, pollers: 3, alwaysInline: false);
        using var pair = SocketPair.Create();
        var readiness = new SocketReadiness(pair.Right.SafeHandle, host);
        int fd = (int)pair.Right.SafeHandle.DangerousGetHandle();
        using var canceler = new CancellationTokenSource();

        Errno failed;
        using (NoFileLimit.JustAboveHighestOpen(0))
        {
            // epoll_create1 finds no free descriptor number.
            failed = await readiness.WaitAsync(Interest.Read, fd, canceler.Token).AsTask().WaitAsync(Guard);
        }

        ValueTask<Errno> working = readiness.WaitAsync(Interest.Read, fd, canceler.Token);
        pair.Left.Send([1]);

        Assert.Equal(Linux.LibC.EMFILE, failed.Value);
        Assert.Equal(Errno.Success, await working.AsTask().WaitAsync(Guard));
        canceler.Cancel(); // the failed wait's cancellation registration was disposed: nothing is left to fire
    }

    [LinuxFact]
    public void AStartThatCannotStartAPoller_ThrowsAndClosesTheKernelQueue()
    {
        var host = new EngineHost(EngineHost.CreatePlatformBackend, pollers: 3, alwaysInline: false, startThread: _ => throw new OutOfMemoryException());

        Leak.AssertNone(() => Assert.Throws<OutOfMemoryException>(() => host.TryGetEngine(out _)));
    }

    [LinuxFact]
    public async Task AHandOffThatCouldNotStartAPoller_IsRetried_SoNoWaitHangs()
    {
        // Three continuations, each run inline by the poller holding the kernel's wait, each make a blocking call of the
        // library, so each hands the wait off. The third finds no poller standing by, and starting one fails once (as
        // when pthread_create does: .NET throws OutOfMemoryException). Every poller is then blocked in a continuation
        // whose socket only the kernel's wait can report: the released turn must still be taken.
        int pollerStarts = 0;
        var host = new EngineHost(EngineHost.CreatePlatformBackend, pollers: 3, alwaysInline: false, startThread: thread =>
        {
            if (thread.Name == "AsyncSendFd readiness" && Interlocked.Increment(ref pollerStarts) == 4)
            {
                throw new OutOfMemoryException("no thread could start");
            }

            thread.UnsafeStart();
        });
        var pairs = Enumerable.Range(0, 3).Select(_ => (Wakes: SocketPair.Create(), Blocks: SocketPair.Create())).ToArray();
        try
        {
            Task[] continuations = [.. pairs.Select(pair => BlockInAContinuation(host, pair.Wakes.Right, pair.Blocks.Right))];
            foreach (var pair in pairs)
            {
                pair.Wakes.Left.Send([1]);
                await Task.Delay(200); // one continuation at a time takes the poller that holds the wait
            }

            foreach (var pair in pairs)
            {
                pair.Blocks.Left.Send([1]);
            }

            await Task.WhenAll(continuations).WaitAsync(Guard);
            Assert.True(Volatile.Read(ref pollerStarts) >= 5, "the refused start was not tried again"); // 3, the refused 4th, a 5th
        }
        finally
        {
            foreach (var pair in pairs)
            {
                pair.Wakes.Dispose();
                pair.Blocks.Dispose();
            }
        }
    }

    private static async Task BlockInAContinuation(EngineHost host, Socket wakes, Socket blocks)
    {
        var woken = new SocketReadiness(wakes.SafeHandle, host);
        Assert.Equal(Errno.Success, await woken.WaitAsync(Interest.Read, (int)wakes.SafeHandle.DangerousGetHandle(), default).ConfigureAwait(false));
        Assert.Equal("AsyncSendFd readiness", Thread.CurrentThread.Name); // run inline by the poller that held the wait
        var blocking = new SocketReadiness(blocks.SafeHandle, host);
        blocking.ArmBlocking(Interest.Read, (int)blocks.SafeHandle.DangerousGetHandle());
        Assert.Equal(Errno.Success, blocking.WaitBlocking(Interest.Read, Timeout.Infinite));
    }

    private static IReadinessBackend CreateEpoll()
    {
        Assert.Equal(Errno.Success, EngineHost.CreatePlatformBackend(out IReadinessBackend? backend));
        return backend!;
    }

    /// <summary>Arms everything, reports nothing, and fails its wait when told to.</summary>
    private sealed class FailingBackend : IReadinessBackend
    {
        private readonly SemaphoreSlim _fail = new(0);
        private int _errno;
        private int _waits;

        public bool EventDisarmsAllDirections => true;

        public int Waits => Volatile.Read(ref _waits);

        public void FailNextWait(int errno)
        {
            Volatile.Write(ref _errno, errno);
            _fail.Release();
        }

        public Errno Register(int fd, ulong token, Interest interest) => Errno.Success;

        public Errno Reregister(int fd, ulong token, Interest interest) => Errno.Success;

        public Errno Wait(Span<ReadinessEvent> events, int timeoutMilliseconds, out int count)
        {
            Interlocked.Increment(ref _waits);
            count = 0;
            return _fail.Wait(50) ? new Errno(Volatile.Read(ref _errno)) : Errno.Success;
        }

        public void Dispose() => _fail.Dispose();
    }
}
