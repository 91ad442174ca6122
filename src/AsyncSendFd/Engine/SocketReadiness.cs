using System.Runtime.InteropServices;
using AsyncSendFd.Syscalls;

namespace AsyncSendFd.Engine;

/// <summary>
/// One socket object's waits, a reusable <see cref="ReadinessWaiter"/> per direction. It holds no reference on the
/// socket between syscalls, so disposing the socket never waits for a waiting call; the engine notices the disposal
/// and ends the wait.
/// </summary>
internal sealed class SocketReadiness(SafeHandle socket, EngineHost host)
{
    private readonly ReadinessWaiter _readable = new(socket, Interest.Read);
    private readonly ReadinessWaiter _writable = new(socket, Interest.Write);

    /// <summary>
    /// Starts waiting until <paramref name="fd"/> is worth retrying in <paramref name="direction"/>. The caller holds a
    /// reference on the socket for this call only, and awaits the result after releasing it.
    /// </summary>
    /// <returns><see cref="Errno.Success"/> (retry) or an errno; cancellation throws <see cref="OperationCanceledException"/>.</returns>
    public ValueTask<Errno> WaitAsync(Interest direction, int fd, CancellationToken cancellationToken)
    {
        ReadinessWaiter waiter = WaiterFor(direction);
        waiter.Reset(blocking: false, cancellationToken);
        Add(waiter, fd);
        return waiter.Task;
    }

    /// <summary>Arms a blocking wait; the caller then releases its reference and calls <see cref="WaitBlocking"/>.</summary>
    public void ArmBlocking(Interest direction, int fd)
    {
        ReadinessWaiter waiter = WaiterFor(direction);
        waiter.Reset(blocking: true, default);
        Add(waiter, fd);
    }

    /// <summary>Blocks until the wait armed by <see cref="ArmBlocking"/> ends, or <paramref name="timeoutMilliseconds"/> passes.</summary>
    /// <returns><see cref="Errno.Success"/> (retry), an errno, or <see cref="Errno.ETIMEDOUT"/>.</returns>
    public Errno WaitBlocking(Interest direction, int timeoutMilliseconds)
    {
        ReadinessWaiter waiter = WaiterFor(direction);
        ReadinessEngine.BeforeBlockingWait();
        if (waiter.WaitBlocking(timeoutMilliseconds, out Errno outcome))
        {
            return outcome;
        }

        // Whoever unlinks the waiter completes it: if an event got there first, take its outcome.
        if (waiter.Registration is { } registration && registration.Withdraw(waiter))
        {
            return Errno.ETIMEDOUT;
        }

        _ = waiter.WaitBlocking(Timeout.Infinite, out outcome);
        return outcome;
    }

    private ReadinessWaiter WaiterFor(Interest direction) => direction == Interest.Read ? _readable : _writable;

    private void Add(ReadinessWaiter waiter, int fd)
    {
        Errno errno = host.TryGetEngine(out ReadinessEngine? engine);
        bool canceled = false;
        if (errno.IsSuccess)
        {
            errno = engine!.Add(waiter, fd, out canceled);
        }

        // Not linked: nothing awaits it yet, so completing here runs nothing.
        if (canceled)
        {
            waiter.CompleteCanceled(inline: true);
        }
        else if (!errno.IsSuccess)
        {
            waiter.Complete(errno, inline: true);
        }
    }
}
