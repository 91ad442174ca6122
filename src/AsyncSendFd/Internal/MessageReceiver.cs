using System.Diagnostics.CodeAnalysis;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using AsyncSendFd.Engine;
using AsyncSendFd.Native.Interop;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Internal;

/// <summary>
/// Receives one message and hands every descriptor it carried to the caller as an owning handle,
/// or closes them all and throws: no path leaks one.
/// </summary>
internal static class MessageReceiver
{
    /// <summary>One non-blocking recvmsg with room for the most descriptors any peer can send.</summary>
    /// <returns>Bytes received (0 at end of stream), or minus errno.</returns>
    /// <exception cref="IOException">Descriptors were truncated or exceeded <paramref name="slots"/>; all were closed.</exception>
    [SkipLocalsInit]
    public static nint TryReceive(int socket, Span<byte> data, Span<SafeFileHandle?> slots, out int descriptorCount)
    {
        descriptorCount = 0;
        Span<byte> control = stackalloc byte[NativeSocket.ControlBufferSize];
        nint received = NativeSocket.ReceiveMessage(socket, data, control, out int controlLength, out ReceiveFlags flags);
        if (received < 0)
        {
            return received;
        }

        Span<int> raw = stackalloc int[NativeSocket.ControlBufferSize / sizeof(int)];
        int count = CollectDescriptors(control[..controlLength], raw, out bool malformed);
        raw = raw[..count];
        if (OperatingSystem.IsMacOS())
        {
            foreach (int fd in raw)
            {
                NativeSocket.SetCloseOnExec(fd);
            }
        }

        bool controlTruncated = (flags & ReceiveFlags.ControlTruncated) != 0 || malformed;
        bool dataTruncated = (flags & ReceiveFlags.DataTruncated) != 0;
        if (controlTruncated || dataTruncated || count > slots.Length)
        {
            // Closed before the exception is built: an allocation failing there must not leak them.
            CloseAll(raw);
            throw controlTruncated ? Errors.ControlDataTruncated()
                : dataTruncated ? Errors.DataTruncated(data.Length)
                : Errors.TooManyDescriptors(count, slots.Length);
        }

        HandOver(raw, slots);
        descriptorCount = count;
        return received;
    }

    public static ReceiveStatus StatusOf(nint received, int descriptorCount, int errno) =>
        received > 0 || descriptorCount > 0 ? ReceiveStatus.Received
        : received == 0 ? ReceiveStatus.EndOfStream
        : errno == Errno.EAGAIN ? ReceiveStatus.WouldBlock
        : ReceiveStatus.Failed;

    /// <summary>
    /// Every descriptor of every SCM_RIGHTS message, truncated ones included, so they can be closed.
    /// Descriptors the kernel adds on its own (a pidfd under SO_PASSPIDFD) are closed here.
    /// </summary>
    internal static int CollectDescriptors(ReadOnlySpan<byte> control, Span<int> destination, out bool malformed)
    {
        ControlMessageLayout layout = ControlMessageLayout.Current;
        var reader = new ControlMessageReader(control, layout);
        int count = 0;
        while (reader.TryReadNext(out ControlMessage message))
        {
            if (message.Level == layout.SocketLevel && message.Type == layout.RightsType)
            {
                ReadOnlySpan<int> descriptors = message.Descriptors;
                descriptors.CopyTo(destination[count..]);
                count += descriptors.Length;
            }
            else if (NativeSocket.IsKernelInstalledDescriptor(message.Level, message.Type))
            {
                // Not sent by the peer and not asked for through this API: close it rather than leak it.
                CloseAll(message.Descriptors);
            }
        }

        malformed = reader.IsMalformed;
        return count;
    }

    /// <summary>Wraps each descriptor in an owning handle; if that fails midway, nothing stays open.</summary>
    private static void HandOver(ReadOnlySpan<int> raw, Span<SafeFileHandle?> slots)
    {
        int wrapped = 0;
        try
        {
            for (; wrapped < raw.Length; wrapped++)
            {
                slots[wrapped] = new SafeFileHandle(raw[wrapped], ownsHandle: true);
            }
        }
        catch
        {
            for (int i = 0; i < wrapped; i++)
            {
                slots[i]!.Dispose();
                slots[i] = null;
            }

            CloseAll(raw[wrapped..]);
            throw;
        }
    }

    private static void CloseAll(ReadOnlySpan<int> raw)
    {
        foreach (int fd in raw)
        {
            NativeSocket.CloseQuietly(fd);
        }
    }

    /// <summary>Adopts a received descriptor as a socket; if it is not one, it is closed.</summary>
    public static Socket AdoptSocket(SafeFileHandle handle) => SocketAdoption.TryAdopt(handle) ?? throw Errors.NotASocket();

    public static TResult Receive<TAttempt, TResult>(Socket socket, scoped TAttempt attempt)
        where TAttempt : IReceiveAttempt<TResult>, allows ref struct
    {
        SocketChannel channel = SocketChannel.Of(socket);
        channel.ReceiveGate.Wait();
        try
        {
            var deadline = default(Deadline);
            while (true)
            {
                // The socket is referenced around the syscalls only: Dispose never waits for a waiting receive.
                int fd = SocketReference.Acquire(socket);
                try
                {
                    if (TryComplete<TAttempt, TResult>(socket, fd, ref attempt, out TResult? result))
                    {
                        return result;
                    }

                    channel.Readiness.ArmBlocking(Interest.Read, fd);
                }
                finally
                {
                    SocketReference.Release(socket);
                }

                if (!deadline.IsStarted)
                {
                    deadline.Start(socket.ReceiveTimeout);
                }

                MessageSender.ThrowIfFailed(channel.Readiness.WaitBlocking(Interest.Read, deadline.RemainingMilliseconds), socket);
            }
        }
        finally
        {
            channel.ReceiveGate.Release();
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<TResult> ReceiveAsync<TAttempt, TResult>(Socket socket, TAttempt attempt, CancellationToken cancellationToken)
        where TAttempt : IReceiveAttempt<TResult>
    {
        SocketChannel channel = SocketChannel.Of(socket);
        await channel.ReceiveGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            while (true)
            {
                ValueTask<int> readable;
                int fd = SocketReference.Acquire(socket);
                try
                {
                    if (TryComplete<TAttempt, TResult>(socket, fd, ref attempt, out TResult? result))
                    {
                        return result;
                    }

                    // Waiting consumes nothing, so a canceled wait leaves the message for the next receive.
                    readable = channel.Readiness.WaitAsync(Interest.Read, fd, cancellationToken);
                }
                finally
                {
                    SocketReference.Release(socket);
                }

                MessageSender.ThrowIfFailed(await readable.ConfigureAwait(false), socket);
            }
        }
        finally
        {
            channel.ReceiveGate.Release();
        }
    }

    /// <summary>One attempt, with end of stream and errors settled.</summary>
    /// <returns><see langword="false"/> when nothing is there yet and the caller must wait for readability.</returns>
    private static bool TryComplete<TAttempt, TResult>(Socket socket, int fd, scoped ref TAttempt attempt, [MaybeNullWhen(false)] out TResult result)
        where TAttempt : IReceiveAttempt<TResult>, allows ref struct
    {
        switch (attempt.TryReceive(fd, out result, out int errno))
        {
            case ReceiveStatus.Received:
                return true;
            case ReceiveStatus.EndOfStream:
                // Disposing the socket under a waiting receive shuts it down: that is not the peer's end of stream.
                ObjectDisposedException.ThrowIf(SocketState.IsDisposed(socket), socket);
                result = socket.SocketType == SocketType.Dgram ? attempt.EmptyDatagram() : attempt.AtEndOfStream();
                return true;
            case ReceiveStatus.Failed:
                throw Errors.FromErrno(errno, socket);
            default:
                return false;
        }
    }
}
