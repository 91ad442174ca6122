using System.Diagnostics.CodeAnalysis;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using AsyncSendFd.Diagnostics;
using AsyncSendFd.Engine;
using AsyncSendFd.Sockets;
using AsyncSendFd.Syscalls;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Receiving;

/// <summary>
/// Receives one message, blocking or async, and hands every descriptor it carried to the caller as an owning
/// handle, or closes them all and throws: no path leaks one. Nothing there yet waits on the readiness engine.
/// </summary>
internal static class ReceiveLoop
{
    /// <param name="socket">The validated socket.</param>
    /// <param name="data">The caller's data buffer (unused by one-descriptor shapes).</param>
    /// <param name="slots">The caller's descriptor slots (unused by one-descriptor shapes).</param>
    public static TResult Receive<TShape, TResult>(Socket socket, Span<byte> data, Span<SafeFileHandle?> slots)
        where TShape : IReceiveShape<TResult>
    {
        ReadinessEngine.ThrowIfEngineThread(); // before the gate, which an async receive waiting on this thread may hold
        SocketContext context = SocketContext.Of(socket);
        context.ReceiveGate.Wait();
        try
        {
            var deadline = default(Deadline);
            while (true)
            {
                // The socket is leased around the syscalls only: Dispose never waits for a waiting receive.
                HandleLease lease = HandleLease.OfSocket(socket);
                try
                {
                    if (TryComplete<TShape, TResult>(socket, lease.Descriptor, data, slots, out TResult? result))
                    {
                        return result;
                    }

                    context.Readiness.ArmBlocking(Interest.Read, lease.Descriptor);
                }
                finally
                {
                    lease.Release();
                }

                if (!deadline.IsStarted)
                {
                    deadline.Start(socket.ReceiveTimeout);
                }

                Exceptions.ThrowIfWaitFailed(context.Readiness.WaitBlocking(Interest.Read, deadline.RemainingMilliseconds), socket);
            }
        }
        finally
        {
            context.ReceiveGate.Release();
        }
    }

    /// <summary>As <see cref="Receive"/>, without a thread; <paramref name="cancellationToken"/> is honoured while waiting, and a canceled wait consumes nothing.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<TResult> ReceiveAsync<TShape, TResult>(
        Socket socket, Memory<byte> data, Memory<SafeFileHandle?> slots, CancellationToken cancellationToken)
        where TShape : IReceiveShape<TResult>
    {
        SocketContext context = SocketContext.Of(socket);
        await context.ReceiveGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            while (true)
            {
                ValueTask<int> readable;
                HandleLease lease = HandleLease.OfSocket(socket);
                try
                {
                    if (TryComplete<TShape, TResult>(socket, lease.Descriptor, data.Span, slots.Span, out TResult? result))
                    {
                        return result;
                    }

                    // Waiting consumes nothing, so a canceled wait leaves the message for the next receive.
                    readable = context.Readiness.WaitAsync(Interest.Read, lease.Descriptor, cancellationToken);
                }
                finally
                {
                    lease.Release();
                }

                Exceptions.ThrowIfWaitFailed(await readable.ConfigureAwait(false), socket);
            }
        }
        finally
        {
            context.ReceiveGate.Release();
        }
    }

    /// <summary>One attempt, with the message, end of stream and errors settled.</summary>
    /// <returns><see langword="false"/> when nothing is there yet and the caller must wait for readability.</returns>
    [SkipLocalsInit]
    private static bool TryComplete<TShape, TResult>(
        Socket socket, int fd, Span<byte> callerData, Span<SafeFileHandle?> callerSlots, [MaybeNullWhen(false)] out TResult result)
        where TShape : IReceiveShape<TResult>
    {
        SafeFileHandle? one = null;
        Span<byte> data = TShape.IsOneDescriptor ? stackalloc byte[4] : callerData;
        Span<SafeFileHandle?> slots = TShape.IsOneDescriptor ? new Span<SafeFileHandle?>(ref one) : callerSlots;
        nint received = TryReceive(fd, data, slots, out int descriptors);
        if (received > 0 || descriptors > 0)
        {
            result = TShape.Received((int)received, descriptors, slots);
            AsyncSendFdMetrics.MessageReceived(descriptors);
            return true;
        }

        if (received == 0)
        {
            // Disposing a stream socket under a receive shuts it down: that is not the peer's end of stream.
            if (SocketContext.IsDisposed(socket))
            {
                throw HandleLease.SocketDisposed();
            }

            result = socket.SocketType == SocketType.Dgram ? TShape.EmptyDatagram() : TShape.AtEndOfStream();
            return true;
        }

        result = default;
        return -received == Errno.EAGAIN ? false : throw Exceptions.FromErrno((int)-received, socket);
    }

    /// <summary>One non-blocking recvmsg with room for the most descriptors any peer can send.</summary>
    /// <returns>Bytes received (0 at end of stream), or minus errno.</returns>
    /// <exception cref="IOException">Descriptors were truncated or exceeded <paramref name="slots"/>; all were closed.</exception>
    [SkipLocalsInit]
    private static nint TryReceive(int fd, Span<byte> data, Span<SafeFileHandle?> slots, out int descriptors)
    {
        descriptors = 0;
        Span<byte> control = stackalloc byte[MessageCalls.ControlBufferSize];
        nint received = MessageCalls.Receive(fd, data, control, out int controlLength, out ReceiveFlags flags);
        if (received < 0)
        {
            return received;
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
            AsyncSendFdMetrics.MessageRefused(controlTruncated ? RefusalReason.ControlTruncated : dataTruncated ? RefusalReason.DataTruncated : RefusalReason.TooManyDescriptors, count);
            throw controlTruncated ? Exceptions.ControlDataTruncated()
                : dataTruncated ? Exceptions.DataTruncated(data.Length)
                : Exceptions.TooManyDescriptors(count, slots.Length);
        }

        ReceivedDescriptors.HandOver(raw, slots);
        descriptors = count;
        return received;
    }
}
