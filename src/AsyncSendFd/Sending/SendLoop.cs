using System.Net.Sockets;
using System.Runtime.CompilerServices;
using AsyncSendFd.Engine;
using AsyncSendFd.Sockets;
using AsyncSendFd.Syscalls;

namespace AsyncSendFd.Sending;

/// <summary>
/// Sends one message whole, blocking or async: the descriptors ride on the first sendmsg, the rest of a partial
/// write follows without control data, and a full socket is waited for on the readiness engine (without holding a
/// thread in the async form). The socket and the handles being sent are referenced around each syscall only, never
/// across a wait.
/// </summary>
internal static class SendLoop
{
    /// <param name="socket">The validated socket.</param>
    /// <param name="data">The bytes.</param>
    /// <param name="handles">The handles to send; disposed here.</param>
    /// <param name="address">A destination's <c>sockaddr_un</c>, or empty.</param>
    public static void Send(Socket socket, ReadOnlySpan<byte> data, OutgoingHandles handles, ReadOnlySpan<byte> address)
    {
        using (handles)
        {
            SocketContext context = SocketContext.Of(socket);
            var deadline = new Deadline(socket, Interest.Write);
            Errno failed = context.EnterGate(Interest.Write, ref deadline);
            if (failed.IsSuccess)
            {
                try
                {
                    failed = SendInTurn(socket, context, data, handles, address, ref deadline);
                }
                finally
                {
                    context.SendGate.Exit();
                }
            }

            if (!failed.IsSuccess)
            {
                throw Exceptions.FromErrno(failed, socket);
            }
        }
    }

    /// <summary>As <see cref="Send"/>, without a thread; <paramref name="cancellationToken"/> is honoured until the first byte leaves.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public static async ValueTask SendAsync(
        Socket socket, ReadOnlyMemory<byte> data, OutgoingHandles handles, ReadOnlyMemory<byte> address, CancellationToken cancellationToken)
    {
        using (handles)
        {
            SocketContext context = SocketContext.Of(socket);
            await context.SendGate.EnterAsync(cancellationToken).ConfigureAwait(false);
            Errno failed;
            try
            {
                int sent = -1;
                var backoff = default(DestinationBackoff);
                while (true)
                {
                    ValueTask<Errno> writable = default;
                    using (HandleLease lease = HandleLease.OfSocket(socket))
                    {
                        if (TrySendRest(lease.Descriptor, data.Span, ref sent, handles, address.Span, out failed))
                        {
                            return;
                        }

                        if (failed != Errno.EAGAIN)
                        {
                            break;
                        }

                        if (address.IsEmpty)
                        {
                            // Once a byte has left, the message must be finished: a half-sent one corrupts the stream.
                            writable = context.Readiness.WaitAsync(Interest.Write, lease.Descriptor, sent >= 0 ? CancellationToken.None : cancellationToken);
                        }
                    }

                    if (!address.IsEmpty)
                    {
                        await Task.Delay(backoff.NextMilliseconds(), cancellationToken).ConfigureAwait(false);
                    }
                    else if (!(failed = await writable.ConfigureAwait(false)).IsSuccess)
                    {
                        break;
                    }
                }
            }
            finally
            {
                context.SendGate.Exit();
            }

            throw Exceptions.FromErrno(failed, socket);
        }
    }

    /// <summary>The blocking loop, with the gate held.</summary>
    /// <returns><see cref="Errno.Success"/> once the whole message has left, or why it could not.</returns>
    private static Errno SendInTurn(Socket socket, SocketContext context, ReadOnlySpan<byte> data, OutgoingHandles handles, ReadOnlySpan<byte> address, ref Deadline deadline)
    {
        int sent = -1;
        var backoff = default(DestinationBackoff);
        while (true)
        {
            using (HandleLease lease = HandleLease.OfSocket(socket))
            {
                if (TrySendRest(lease.Descriptor, data, ref sent, handles, address, out Errno failed))
                {
                    return Errno.Success;
                }

                if (failed != Errno.EAGAIN)
                {
                    return failed;
                }

                if (address.IsEmpty)
                {
                    context.Readiness.ArmBlocking(Interest.Write, lease.Descriptor);
                }
            }

            // The timeout, like cancellation, only applies before the first byte leaves.
            int timeout = sent >= 0 ? Timeout.Infinite : deadline.RemainingMilliseconds();
            Errno waited = address.IsEmpty ? context.Readiness.WaitBlocking(Interest.Write, timeout) : backoff.Sleep(timeout);
            if (!waited.IsSuccess)
            {
                return waited;
            }
        }
    }

    /// <summary>
    /// Sends as much of the message as the socket takes now: the first sendmsg carries the descriptors. <paramref name="sent"/>
    /// counts the bytes sent so far, -1 before the first sendmsg.
    /// </summary>
    /// <returns><see langword="true"/> when the whole message is sent; otherwise <paramref name="failed"/> says why not.</returns>
    [SkipLocalsInit]
    private static bool TrySendRest(int fd, ReadOnlySpan<byte> data, ref int sent, OutgoingHandles handles, ReadOnlySpan<byte> address, out Errno failed)
    {
        failed = Errno.Success;
        if (sent < 0)
        {
            Span<int> descriptors = stackalloc int[handles.Count];
            using HandleLease leased = handles.Count > 0 ? handles.Lease(descriptors) : default;
            failed = MessageCalls.Send(fd, data, descriptors, address, out int written);
            if (!failed.IsSuccess)
            {
                return false;
            }

            sent = written; // the descriptors have left
        }

        while (sent < data.Length)
        {
            failed = MessageCalls.Send(fd, data[sent..], default, address, out int written);
            if (!failed.IsSuccess)
            {
                return false;
            }

            sent += written;
        }

        return true;
    }
}
