using System.Net.Sockets;
using System.Runtime.Versioning;
using AsyncSendFd.Engine;
using AsyncSendFd.Sockets;
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
        var host = new EngineHost((out IReadinessBackend? created) => { created = backend; return 0; }, inlineCompletions: false);
        using var pair = SocketPair.Create();
        var readiness = new SocketReadiness(pair.Right.SafeHandle, host);

        ValueTask<int> waiting = readiness.WaitAsync(Interest.Read, (int)pair.Right.SafeHandle.DangerousGetHandle(), default);
        backend.FailNextWait(Linux.LibC.EINVAL);
        int outcome = await waiting.AsTask().WaitAsync(Guard);

        Assert.Equal(Linux.LibC.EINVAL, outcome);
        SocketException thrown = Assert.Throws<SocketException>(() => Exceptions.ThrowIfWaitFailed(outcome, pair.Right));
        Assert.Equal(SocketError.InvalidArgument, thrown.SocketErrorCode);
        int waitsAfterFailure = backend.Waits;
        await Task.Delay(300);
        Assert.Equal(waitsAfterFailure, backend.Waits); // the thread left; it does not spin on the error
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
                return 0;
            },
            inlineCompletions: false);
        using var pair = SocketPair.Create();
        var readiness = new SocketReadiness(pair.Right.SafeHandle, host);
        int fd = (int)pair.Right.SafeHandle.DangerousGetHandle();
        ValueTask<int> failing = readiness.WaitAsync(Interest.Read, fd, default);
        first.FailNextWait(Linux.LibC.ENOMEM);
        Assert.Equal(Linux.LibC.ENOMEM, await failing.AsTask().WaitAsync(Guard));

        ValueTask<int> working = readiness.WaitAsync(Interest.Read, fd, default);
        pair.Left.Send([1]);

        Assert.Equal(ReadinessWaiter.Ready, await working.AsTask().WaitAsync(Guard));
        Assert.Equal(2, created);
    }

    [LinuxFact]
    public async Task AFailedStart_IsNotCached_TheNextWaitStartsTheEngine()
    {
        var host = new EngineHost(EngineHost.CreatePlatformBackend, inlineCompletions: false);
        using var pair = SocketPair.Create();
        var readiness = new SocketReadiness(pair.Right.SafeHandle, host);
        int fd = (int)pair.Right.SafeHandle.DangerousGetHandle();
        using var canceler = new CancellationTokenSource();

        int failed;
        using (NoFileLimit.JustAboveHighestOpen(0))
        {
            // epoll_create1 finds no free descriptor number.
            failed = await readiness.WaitAsync(Interest.Read, fd, canceler.Token).AsTask().WaitAsync(Guard);
        }

        ValueTask<int> working = readiness.WaitAsync(Interest.Read, fd, canceler.Token);
        pair.Left.Send([1]);

        Assert.Equal(Linux.LibC.EMFILE, failed);
        Assert.Equal(ReadinessWaiter.Ready, await working.AsTask().WaitAsync(Guard));
        canceler.Cancel(); // the failed wait's cancellation registration was disposed: nothing is left to fire
    }

    private static IReadinessBackend CreateEpoll()
    {
        Assert.Equal(0, EngineHost.CreatePlatformBackend(out IReadinessBackend? backend));
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

        public int Arm(int fd, ulong token, Interest interest, Interest added, ref bool known) => 0;

        public int Wait(Span<ReadinessEvent> events, int timeoutMilliseconds)
        {
            Interlocked.Increment(ref _waits);
            return _fail.Wait(Math.Min(timeoutMilliseconds < 0 ? 50 : timeoutMilliseconds, 50)) ? -Volatile.Read(ref _errno) : 0;
        }

        public void Wake()
        {
        }

        public void Dispose() => _fail.Dispose();
    }
}
