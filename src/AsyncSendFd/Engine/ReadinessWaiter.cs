using System.Threading.Tasks.Sources;

namespace AsyncSendFd.Engine;

/// <summary>
/// One socket's reusable wait in one direction: an <see cref="IValueTaskSource{TResult}"/> for async callers and an
/// event for blocking ones, so a wait allocates nothing. The socket's gate for that direction allows one wait at a time.
/// </summary>
/// <remarks>
/// The result is an outcome code, not an exception, so that the caller (which knows the socket) builds the exception.
/// Whoever removes the direction from <see cref="SocketReadiness"/>'s interest under its lock completes the wait, once.
/// </remarks>
internal sealed class ReadinessWaiter(SocketReadiness owner, Interest direction) : IValueTaskSource<int>, IThreadPoolWorkItem
{
    /// <summary>The socket is worth retrying.</summary>
    public const int Ready = 0;

    /// <summary>A blocking wait reached its deadline.</summary>
    public const int TimedOut = -1;

    private const int Canceled = -2;

    private static readonly Action<object?, CancellationToken> OnCanceled =
        static (state, _) => ((ReadinessWaiter)state!).Owner.Cancel((ReadinessWaiter)state!);

    // The engine picks the thread a continuation runs on, so the core never queues one itself.
    private ManualResetValueTaskSourceCore<int> _core;
    private CancellationTokenRegistration _registration;
    private CancellationToken _cancellationToken;
    private ManualResetEventSlim? _blockedThread;
    private bool _isBlocking;
    private int _outcome;

    public SocketReadiness Owner { get; } = owner;

    public Interest Direction { get; } = direction;

    /// <summary>Set by the cancellation callback under the owner's lock, so a wait not yet armed is never armed.</summary>
    public bool CancelRequested { get; set; }

    /// <summary>The wait as a value task: its result is <see cref="Ready"/> or an errno; cancellation throws.</summary>
    public ValueTask<int> Task => new(this, _core.Version);

    /// <summary>Prepares a new wait. Cancellation is registered before arming, so the registration is always disposed by the waiter.</summary>
    public void Reset(bool blocking, CancellationToken cancellationToken)
    {
        _core.Reset();
        _isBlocking = blocking;
        _outcome = Ready;
        _cancellationToken = cancellationToken;
        CancelRequested = false;
        if (blocking)
        {
            _blockedThread ??= new ManualResetEventSlim(false);
            _blockedThread.Reset();
        }
        else if (cancellationToken.CanBeCanceled)
        {
            _registration = cancellationToken.UnsafeRegister(OnCanceled, this);
        }
    }

    /// <summary>Ends the wait with <paramref name="outcome"/>; called once, outside the owner's lock.</summary>
    /// <param name="outcome"><see cref="Ready"/>, an errno, or a cancellation.</param>
    /// <param name="runInline">Run an async continuation on this thread rather than on the thread pool.</param>
    public void Complete(int outcome, bool runInline)
    {
        _outcome = outcome;
        if (_isBlocking)
        {
            _blockedThread!.Set();
        }
        else if (runInline)
        {
            Signal();
        }
        else
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    public void CompleteCanceled(bool runInline) => Complete(Canceled, runInline);

    /// <summary>Blocks until the wait completes or <paramref name="timeoutMilliseconds"/> passes (-1: for ever).</summary>
    /// <returns>The outcome, or <see langword="null"/> on timeout (the wait is still armed).</returns>
    public int? WaitBlocking(int timeoutMilliseconds) =>
        _blockedThread!.Wait(timeoutMilliseconds) ? _outcome : null;

    void IThreadPoolWorkItem.Execute() => Signal();

    private void Signal()
    {
        if (_outcome == Canceled)
        {
            _core.SetException(new OperationCanceledException(_cancellationToken));
        }
        else
        {
            _core.SetResult(_outcome);
        }
    }

    int IValueTaskSource<int>.GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            _registration.Dispose();
            _registration = default;
        }
    }

    ValueTaskSourceStatus IValueTaskSource<int>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<int>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
