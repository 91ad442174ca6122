using System.Diagnostics.CodeAnalysis;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using AsyncSendFd.Engine;
using AsyncSendFd.Sockets;
using AsyncSendFd.Syscalls;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Receiving;

/// <summary>
/// Receives one message, blocking or async, and hands every descriptor it carried to the caller as an owning
/// handle, or closes them all and throws: no path leaks one. An empty socket is waited for on the readiness engine
/// (without holding a thread in the async form); the socket is referenced around each syscall only, never across a wait.
/// </summary>
internal static class ReceiveLoop
{
    /// <param name="socket">The validated socket.</param>
    /// <param name="data">The caller's data buffer (unused by one-descriptor shapes).</param>
    /// <param name="slots">The caller's descriptor slots (unused by one-descriptor shapes).</param>
    public static TResult Receive<TShape, TResult>(Socket socket, Span<byte> data, Span<SafeFileHandle?> slots)
        where TShape : IReceiveShape<TResult>
    {
        SocketContext context = SocketContext.Of(socket);
        var deadline = new Deadline(socket, Interest.Read);
        Errno failed = context.EnterGate(Interest.Read, ref deadline);
        if (failed.IsSuccess)
        {
            try
            {
                while (true)
                {
                    using (HandleLease lease = HandleLease.OfSocket(socket))
                    {
                        if (TryComplete<TShape, TResult>(socket, lease.Descriptor, data, slots, out TResult? result, out failed))
                        {
                            return result;
                        }

                        if (failed != Errno.EAGAIN)
                        {
                            break;
                        }

                        context.Readiness.ArmBlocking(Interest.Read, lease.Descriptor);
                    }

                    if (!(failed = context.Readiness.WaitBlocking(Interest.Read, deadline.RemainingMilliseconds())).IsSuccess)
                    {
                        break;
                    }
                }
            }
            finally
            {
                context.ReceiveGate.Exit();
            }
        }

        throw Exceptions.FromErrno(failed, socket);
    }

    /// <summary>As <see cref="Receive"/>, without a thread; <paramref name="cancellationToken"/> is honoured while waiting, and a canceled wait consumes nothing.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<TResult> ReceiveAsync<TShape, TResult>(
        Socket socket, Memory<byte> data, Memory<SafeFileHandle?> slots, CancellationToken cancellationToken)
        where TShape : IReceiveShape<TResult>
    {
        SocketContext context = SocketContext.Of(socket);
        await context.ReceiveGate.EnterAsync(cancellationToken).ConfigureAwait(false);
        Errno failed;
        try
        {
            while (true)
            {
                ValueTask<Errno> readable;
                using (HandleLease lease = HandleLease.OfSocket(socket))
                {
                    if (TryComplete<TShape, TResult>(socket, lease.Descriptor, data.Span, slots.Span, out TResult? result, out failed))
                    {
                        return result;
                    }

                    if (failed != Errno.EAGAIN)
                    {
                        break;
                    }

                    // Waiting consumes nothing, so a canceled wait leaves the message for the next receive.
                    readable = context.Readiness.WaitAsync(Interest.Read, lease.Descriptor, cancellationToken);
                }

                if (!(failed = await readable.ConfigureAwait(false)).IsSuccess)
                {
                    break;
                }
            }
        }
        finally
        {
            context.ReceiveGate.Exit();
        }

        throw Exceptions.FromErrno(failed, socket);
    }

    /// <summary>One attempt, with the message and end of stream settled.</summary>
    /// <returns><see langword="false"/> when the recvmsg failed, with <see cref="Errno.EAGAIN"/> when nothing is there yet.</returns>
    [SkipLocalsInit]
    private static bool TryComplete<TShape, TResult>(
        Socket socket, int fd, Span<byte> callerData, Span<SafeFileHandle?> callerSlots, [MaybeNullWhen(false)] out TResult result, out Errno failed)
        where TShape : IReceiveShape<TResult>
    {
        SafeFileHandle? one = null;
        Span<byte> data = TShape.IsOneDescriptor ? stackalloc byte[4] : callerData;
        Span<SafeFileHandle?> slots = TShape.IsOneDescriptor ? new Span<SafeFileHandle?>(ref one) : callerSlots;
        failed = TryReceive(fd, data, slots, out int received, out int descriptors);
        if (!failed.IsSuccess)
        {
            result = default;
            return false;
        }

        if (received > 0 || descriptors > 0)
        {
            result = TShape.Received(received, descriptors, slots);
        }
        else if (SocketContext.IsDisposed(socket))
        {
            // A socket disposed under the receive can read 0 bytes (.NET may shut it down as it closes it): that is
            // not the peer's end of stream.
            throw HandleLease.SocketDisposed();
        }
        else
        {
            result = socket.SocketType == SocketType.Dgram ? TShape.EmptyDatagram() : TShape.AtEndOfStream();
        }

        return true;
    }

    /// <summary>One non-blocking recvmsg with room for the most descriptors any peer can send.</summary>
    /// <exception cref="IOException">Descriptors were truncated or exceeded <paramref name="slots"/>; all were closed.</exception>
    [SkipLocalsInit]
    private static Errno TryReceive(int fd, Span<byte> data, Span<SafeFileHandle?> slots, out int received, out int descriptors)
    {
        descriptors = 0;
        Span<byte> control = stackalloc byte[MessageCalls.ControlBufferSize];
        Errno failed = MessageCalls.Receive(fd, data, control, out received, out int controlLength, out ReceiveFlags flags);
        if (!failed.IsSuccess)
        {
            return failed;
        }

        Span<int> raw = stackalloc int[MessageCalls.ControlBufferSize / sizeof(int)];
        int count = ReceivedDescriptors.Collect(control[..controlLength], raw, out bool malformed);
        raw = raw[..count];
        if (Os.IsMacOS)
        {
            foreach (int descriptor in raw)
            {
                DescriptorCalls.SetCloseOnExec(descriptor);
            }
        }

        bool controlTruncated = (flags & ReceiveFlags.ControlTruncated) != 0 || malformed;
        bool dataTruncated = (flags & ReceiveFlags.DataTruncated) != 0;
        if (controlTruncated || dataTruncated || count > slots.Length)
        {
            // Closed before the exception is built: an allocation failing there must not leak them.
            ReceivedDescriptors.CloseAll(raw);
            throw controlTruncated ? Exceptions.ControlDataTruncated()
                : dataTruncated ? Exceptions.DataTruncated(data.Length)
                : Exceptions.TooManyDescriptors(count, slots.Length);
        }

        ReceivedDescriptors.HandOver(raw, slots);
        descriptors = count;
        return Errno.Success;
    }
}
