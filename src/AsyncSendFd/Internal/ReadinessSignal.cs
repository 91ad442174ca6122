using System.Threading.Tasks.Sources;

namespace AsyncSendFd.Internal;

/// <summary>
/// One socket's reusable wait for readability or writability: an <see cref="IValueTaskSource"/>, so a
/// wait allocates nothing. The socket's gate for that direction guarantees one wait at a time.
/// </summary>
internal sealed class ReadinessSignal(short events) : IValueTaskSource
{
    private static readonly Action<object?, CancellationToken> OnCanceled = static (state, token) =>
    {
        var signal = (ReadinessSignal)state!;
        if (ReadinessMonitor.Shared.TryCancel(signal))
        {
            signal._core.SetException(new OperationCanceledException(token));
        }
    };

    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
    private CancellationTokenRegistration _registration;

    /// <summary>The poll(2) events waited for: POLLIN or POLLOUT.</summary>
    public short Events { get; } = events;

    /// <summary>The descriptor being watched; the caller holds a reference on its SafeHandle for the whole wait.</summary>
    public int Socket { get; private set; }

    /// <summary>Written under the monitor's lock.</summary>
    public bool CancelRequested { get; set; }

    /// <summary>Completes when <paramref name="socket"/> is ready for <see cref="Events"/>, hung up or in error, or when <paramref name="cancellationToken"/> fires.</summary>
    public ValueTask WaitAsync(int socket, CancellationToken cancellationToken)
    {
        _core.Reset();
        Socket = socket;
        CancelRequested = false;

        // Registered before the monitor sees the signal, so GetResult always disposes this wait's registration.
        _registration = cancellationToken.UnsafeRegister(OnCanceled, this);
        if (!ReadinessMonitor.Shared.TryRegister(this))
        {
            _core.SetException(new OperationCanceledException(cancellationToken));
        }

        return new ValueTask(this, _core.Version);
    }

    /// <summary>Called by the monitor's thread after it removed the signal from the watched set.</summary>
    public void SetReady() => _core.SetResult(true);

    void IValueTaskSource.GetResult(short token)
    {
        try
        {
            _core.GetResult(token);
        }
        finally
        {
            _registration.Dispose();
            _registration = default;
        }
    }

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
