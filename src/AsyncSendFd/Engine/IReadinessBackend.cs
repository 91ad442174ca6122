using AsyncSendFd.Syscalls;

namespace AsyncSendFd.Engine;

/// <summary>
/// What the engine needs from the kernel: epoll on Linux, kqueue on macOS. Everything else (tokens, waiters,
/// disposal, failures, dispatch) is shared, so the platform part stays a thin translation.
/// </summary>
/// <remarks>
/// Every registration is one-shot: an event disarms it, and the engine arms it again only while someone waits.
/// The caller holds a reference on the descriptor for the length of each call.
/// </remarks>
internal interface IReadinessBackend : IDisposable
{
    /// <summary>
    /// Whether an event disarms every direction of its descriptor (epoll: one registration per descriptor)
    /// rather than only the direction that fired (kqueue: one per descriptor and filter).
    /// </summary>
    bool EventDisarmsAllDirections { get; }

    /// <summary>Arms <paramref name="fd"/>, which this backend has not seen, for <paramref name="interest"/>; <paramref name="token"/> comes back with the event.</summary>
    Errno Register(int fd, ulong token, Interest interest);

    /// <summary>
    /// Arms <paramref name="fd"/>, registered before, again for <paramref name="interest"/> (every direction waited for);
    /// <paramref name="token"/> replaces the earlier one.
    /// </summary>
    Errno Reregister(int fd, ulong token, Interest interest);

    /// <summary>
    /// Blocks until events arrive or <paramref name="timeoutMilliseconds"/> passes (-1: for ever), writing
    /// <paramref name="count"/> of them to <paramref name="events"/>; none on timeout.
    /// </summary>
    Errno Wait(Span<ReadinessEvent> events, int timeoutMilliseconds, out int count);
}
