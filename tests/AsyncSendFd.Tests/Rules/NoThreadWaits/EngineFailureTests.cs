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
