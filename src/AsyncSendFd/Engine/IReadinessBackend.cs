namespace AsyncSendFd.Engine;

/// <summary>
/// What the engine needs from the kernel: epoll on Linux, kqueue on macOS. Everything else (tokens, waiters,
/// disposal, failures, dispatch) is shared, so the platform part stays a thin translation.
/// </summary>
internal interface IReadinessBackend : IDisposable
{
    /// <summary>
    /// Whether one event disarms every direction of its descriptor (epoll: one registration per descriptor)
    /// rather than only the direction that fired (kqueue: one per descriptor and filter).
    /// </summary>
    bool EventDisarmsAllDirections { get; }

    /// <summary>Arms a one-shot notification for <paramref name="fd"/>; the caller holds a reference on it.</summary>
    /// <param name="fd">The descriptor.</param>
    /// <param name="token">Reported with the event.</param>
    /// <param name="interest">Every direction now waited for on the descriptor.</param>
    /// <param name="added">The directions this call adds.</param>
    /// <param name="known">Whether this backend has seen the descriptor before; updated.</param>
    /// <returns>0, or the errno.</returns>
    int Arm(int fd, ulong token, Interest interest, Interest added, ref bool known);

    /// <summary>Blocks until events arrive, the timeout passes or <see cref="Wake"/> is called.</summary>
    /// <returns>The number of events written, or minus errno.</returns>
    int Wait(Span<ReadinessEvent> events, int timeoutMilliseconds);

    /// <summary>Ends a <see cref="Wait"/> in progress (or the next one) early.</summary>
    void Wake();
}
