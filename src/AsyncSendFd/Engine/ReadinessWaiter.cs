using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;
using AsyncSendFd.Syscalls;

namespace AsyncSendFd.Engine;

/// <summary>
/// One socket's reusable wait in one direction: an <see cref="IValueTaskSource{TResult}"/> for async callers and an
/// event for blocking ones, so a wait allocates nothing. The socket's gate for that direction allows one wait at a time.
/// </summary>
/// <remarks>
/// The result is an <see cref="Errno"/>, not an exception, so that the caller (which knows the socket) builds the
/// exception. While it waits, the waiter is linked into its descriptor's <see cref="DescriptorRegistration"/>; whoever
/// unlinks it, under that registration's lock, completes it, once: an event, a cancellation, a blocking call's
/// timeout, the disposal scan or the engine's failure.
/// </remarks>
internal sealed class ReadinessWaiter(SafeHandle socket, Interest direction) : IValueTaskSource<Errno>, IThreadPoolWorkItem
{
    private static readonly Action<object?, CancellationToken> OnCanceled =
        static (state, _) => ((ReadinessWaiter)state!).RequestCancel();

    // The engine picks the thread a continuation runs on, so the core never queues one itself.
    private ManualResetValueTaskSourceCore<Errno> _core;
    private CancellationTokenRegistration _cancellation;
    private CancellationToken _cancellationToken;
    private ManualResetEventSlim? _blockedThread;
    private DescriptorRegistration? _registration;
    private bool _isBlocking;
    private int _cancelRequested;
    private bool _canceled;
    private Errno _outcome;

    public Interest Direction { get; } = direction;

    /// <summary>The socket the waiting call is on: the disposal scan ends the wait once it is closed.</summary>
    public SafeHandle Socket { get; } = socket;

    /// <summary>The next waiter on the same descriptor, or in a chain being completed; guarded by the registration's lock.</summary>
    /// <remarks>A field, so the list can be unlinked through a reference to it.</remarks>
    public ReadinessWaiter? Next;

    /// <summary>The registration this waiter is linked into, or <see langword="null"/> when it is not waiting.</summary>
    public DescriptorRegistration? Registration => Volatile.Read(ref _registration);

    public bool CancelRequested => Volatile.Read(ref _cancelRequested) != 0;

    /// <summary>The wait as a value task: its result is <see cref="Errno.Success"/> or an errno; cancellation throws.</summary>
    public ValueTask<Errno> Task => new(this, _core.Version);

    /// <summary>Prepares a new wait. Cancellation is registered before arming, so the registration is always disposed by the waiter.</summary>
    public void Reset(bool blocking, CancellationToken cancellationToken)
    {
        Debug.Assert(Registration is null, "a waiter is reset only when its last wait has ended");
        _core.Reset();
        _isBlocking = blocking;
        _outcome = Errno.Success;
        _canceled = false;
        _cancelRequested = 0;
        _cancellationToken = cancellationToken;
        if (blocking)
        {
            _blockedThread ??= new ManualResetEventSlim(false);
            _blockedThread.Reset();
        }
        else if (cancellationToken.CanBeCanceled)
        {
            _cancellation = cancellationToken.UnsafeRegister(OnCanceled, this);
        }
    }

    /// <summary>Records the link under <paramref name="registration"/>'s lock; a full fence, paired with <see cref="RequestCancel"/>'s.</summary>
    public void LinkTo(DescriptorRegistration? registration) => Interlocked.Exchange(ref _registration, registration);

    /// <summary>Ends the wait with <paramref name="outcome"/>; called once, by whoever unlinked it, outside any lock.</summary>
    /// <param name="outcome"><see cref="Errno.Success"/> (retry) or an errno.</param>
    /// <param name="inline">Run an async continuation on this thread rather than on the thread pool.</param>
    public void Complete(Errno outcome, bool inline)
    {
        Debug.Assert(Registration is null, "a waiter is completed after it was unlinked");
        _outcome = outcome;
        if (_isBlocking)
        {
            _blockedThread!.Set();
        }
        else if (inline)
        {
            Signal();
        }
        else
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    /// <summary>Ends the wait as canceled; the caller's continuation never runs on the thread that canceled it.</summary>
    public void CompleteCanceled(bool inline)
    {
        _canceled = true;
        Complete(Errno.Success, inline);
    }

    /// <summary>Blocks until the wait completes or <paramref name="timeoutMilliseconds"/> passes (-1: for ever).</summary>
    /// <returns>Whether it completed; if not, it is still linked.</returns>
    public bool WaitBlocking(int timeoutMilliseconds, out Errno outcome)
    {
        bool completed = _blockedThread!.Wait(timeoutMilliseconds);
        outcome = _outcome;
        return completed;
    }

    void IThreadPoolWorkItem.Execute() => Signal();

    /// <summary>The cancellation callback: whichever of it and the arming sees the other unlinks the waiter.</summary>
    private void RequestCancel()
    {
        Interlocked.Exchange(ref _cancelRequested, 1);
        if (Registration is { } registration && registration.Withdraw(this))
        {
            // Never inline: the canceling thread is the caller's, and it may hold locks of its own.
            CompleteCanceled(inline: false);
        }
    }

    private void Signal()
    {
        if (_canceled)
        {
            _core.SetException(new OperationCanceledException(_cancellationToken));
        }
        else
        {
            _core.SetResult(_outcome);
        }
    }

    Errno IValueTaskSource<Errno>.GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            // Waits for a running cancellation callback, so none touches the next wait.
            _cancellation.Dispose();
            _cancellation = default;
        }
    }

    ValueTaskSourceStatus IValueTaskSource<Errno>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<Errno>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
