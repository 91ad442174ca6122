using System.Net.Sockets;
using System.Runtime.CompilerServices;
using AsyncSendFd.Diagnostics;
using AsyncSendFd.Engine;
using AsyncSendFd.Sockets;
using AsyncSendFd.Syscalls;

namespace AsyncSendFd.Sending;

/// <summary>
/// Sends one message whole, blocking or async: the descriptors ride on the first sendmsg, the rest of a partial
/// write follows without control data, and a full socket waits on the readiness engine without holding a thread.
/// </summary>
internal static class SendLoop
{
    /// <param name="socket">The validated socket.</param>
    /// <param name="data">The bytes.</param>
    /// <param name="descriptors">The handles to send, leased by the caller; released here.</param>
    /// <param name="address">A destination's <c>sockaddr_un</c>, or empty.</param>
    public static void Send(Socket socket, ReadOnlySpan<byte> data, HandleLease descriptors, ReadOnlySpan<byte> address)
    {
        try
        {
            ReadinessEngine.ThrowIfEngineThread(); // before the gate or a byte: either could strand the thread or the stream
            SocketContext context = SocketContext.Of(socket);
            context.SendGate.Wait();
            try
            {
                int sent = -1;
                var deadline = default(Deadline);
                var backoff = default(DestinationBackoff);
                while (true)
                {
                    // The socket is leased around the syscalls only: Dispose never waits for a waiting send.
                    HandleLease lease = HandleLease.OfSocket(socket);
                    try
                    {
                        if (TrySendRest(socket, lease.Descriptor, data, ref sent, in descriptors, address))
                        {
                            return;
                        }

                        if (address.IsEmpty)
                        {
                            context.Readiness.ArmBlocking(Interest.Write, lease.Descriptor);
                        }
                    }
                    finally
                    {
                        lease.Release();
                    }

                    // The timeout, like cancellation, only applies before the first byte leaves.
                    if (sent < 0 && !deadline.IsStarted)
                    {
                        deadline.Start(socket.SendTimeout);
                    }

                    int timeout = sent >= 0 ? Timeout.Infinite : deadline.RemainingMilliseconds;
                    Exceptions.ThrowIfWaitFailed(
                        address.IsEmpty ? context.Readiness.WaitBlocking(Interest.Write, timeout) : backoff.Sleep(timeout),
                        socket);
                }
            }
            finally
            {
                context.SendGate.Release();
            }
        }
        finally
        {
            descriptors.Release();
        }
    }

    /// <summary>As <see cref="Send"/>, without a thread; <paramref name="cancellationToken"/> is honoured until the first byte leaves.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public static async ValueTask SendAsync(
        Socket socket, ReadOnlyMemory<byte> data, HandleLease descriptors, ReadOnlyMemory<byte> address, CancellationToken cancellationToken)
    {
        try
        {
            SocketContext context = SocketContext.Of(socket);
            await context.SendGate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                int sent = -1;
                var backoff = default(DestinationBackoff);
                while (true)
                {
                    ValueTask<int> writable = default;
                    HandleLease lease = HandleLease.OfSocket(socket);
                    try
                    {
                        if (TrySendRest(socket, lease.Descriptor, data.Span, ref sent, in descriptors, address.Span))
                        {
                            return;
                        }

                        if (address.IsEmpty)
                        {
                            // Once a byte has left, the message must be finished: a half-sent one corrupts the stream.
                            writable = context.Readiness.WaitAsync(Interest.Write, lease.Descriptor, sent >= 0 ? CancellationToken.None : cancellationToken);
                        }
                    }
                    finally
                    {
                        lease.Release();
                    }

                    if (address.IsEmpty)
                    {
                        Exceptions.ThrowIfWaitFailed(await writable.ConfigureAwait(false), socket);
                    }
                    else
                    {
                        await Task.Delay(backoff.NextMilliseconds(), cancellationToken).ConfigureAwait(false);
                    }
                }
            }
            finally
            {
                context.SendGate.Release();
            }
        }
        finally
        {
            descriptors.Release();
        }
    }

    /// <summary>Sends as much of the message as the socket takes now: the first sendmsg carries the descriptors.</summary>
    /// <remarks><paramref name="sent"/> counts the bytes sent so far, -1 before the first sendmsg.</remarks>
    /// <returns><see langword="true"/> when the whole message is sent; <see langword="false"/> when the socket is full.</returns>
    [SkipLocalsInit]
    private static bool TrySendRest(Socket socket, int fd, ReadOnlySpan<byte> data, ref int sent, in HandleLease descriptors, ReadOnlySpan<byte> address)
    {
        Span<int> raw = stackalloc int[sent < 0 ? descriptors.Count : 0];
        if (sent < 0)
        {
            descriptors.WriteDescriptors(raw);
        }

        while (sent < data.Length)
        {
            nint result = MessageCalls.Send(fd, data[Math.Max(sent, 0)..], raw, address);
            if (result < 0)
            {
                return -result == Errno.EAGAIN ? false : throw Exceptions.FromErrno((int)-result, socket);
            }

            sent = Math.Max(sent, 0) + (int)result;
            raw = default; // descriptors leave once
        }

        AsyncSendFdMetrics.MessageSent(descriptors.Count);
        return true;
    }
}
