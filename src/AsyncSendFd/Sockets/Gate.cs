using System.Diagnostics;

namespace AsyncSendFd.Sockets;

/// <summary>
/// One call at a time in one direction of a socket, so concurrent sends never interleave bytes and concurrent receives
/// never split a message. Uncontended, entering and leaving are one compare-and-swap each; a caller that finds the
/// gate held queues on a semaphore, and leaving hands the gate straight to one of them.
/// </summary>
internal sealed class Gate
{
    private readonly SemaphoreSlim _turns = new(0);

    /// <summary>0: free. 1: held. 1 + n: held, with n callers queued for a turn.</summary>
    private int _state;

    /// <summary>Enters, waiting up to <paramref name="timeoutMilliseconds"/> (-1: for ever) behind the calls in line.</summary>
    /// <returns>Whether the caller holds the gate.</returns>
    public bool Enter(int timeoutMilliseconds)
    {
        return TryEnterOrQueue() || WaitInLine(timeoutMilliseconds);
    }

    /// <summary>Enters at once when the gate is free; otherwise waits for a turn without a thread.</summary>
    public ValueTask EnterAsync(CancellationToken cancellationToken) =>
        TryEnterOrQueue() ? ValueTask.CompletedTask : WaitForTurnAsync(cancellationToken);

    /// <summary>Whether the gate is free now; taking it if so, without queueing.</summary>
    public bool TryEnter() => Interlocked.CompareExchange(ref _state, 1, 0) == 0;

    /// <summary>Leaves: the gate is free, or handed to one queued caller.</summary>
    public void Exit()
    {
        int state = Volatile.Read(ref _state);
        while (true)
        {
            Debug.Assert(state >= 1, "only the holder leaves");
            int seen = Interlocked.CompareExchange(ref _state, state - 1, state);
            if (seen == state)
            {
                if (state > 1)
                {
                    _turns.Release(); // still held: the turn passes to a queued caller
                }

                return;
            }

            state = seen;
        }
    }

    /// <summary>Takes the gate if it is free, or joins the queue.</summary>
    /// <returns><see langword="true"/> with the gate held; <see langword="false"/> queued.</returns>
    private bool TryEnterOrQueue()
    {
        int state = Volatile.Read(ref _state);
        while (true)
        {
            int seen = Interlocked.CompareExchange(ref _state, state == 0 ? 1 : state + 1, state);
            if (seen == state)
            {
                return state == 0;
            }

            state = seen;
        }
    }

    /// <summary>A queued caller gives up (timeout, cancellation).</summary>
    /// <returns>
    /// <see langword="true"/> when it left the queue; <see langword="false"/> when no caller is queued any more, so a
    /// turn was handed to it meanwhile: it has taken that turn and holds the gate.
    /// </returns>
    private bool TryLeaveQueue()
    {
        int state = Volatile.Read(ref _state);
        while (state > 1)
        {
            int seen = Interlocked.CompareExchange(ref _state, state - 1, state);
            if (seen == state)
            {
                return true;
            }

            state = seen;
        }

        _turns.Wait(); // released right after the count went down, if not already
        return false;
    }

    private bool WaitInLine(int timeoutMilliseconds)
    {
        Engine.ReadinessEngine.BeforeBlockingWait(); // the call ahead may need the kernel's wait this thread holds
        return _turns.Wait(timeoutMilliseconds) || !TryLeaveQueue();
    }

    private async ValueTask WaitForTurnAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _turns.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            if (!TryLeaveQueue())
            {
                Exit(); // the turn came as we gave up: pass it on
            }

            throw;
        }
    }
}
