using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using AsyncSendFd.Native.Interop;

namespace AsyncSendFd.Internal;

/// <summary>
/// Sends one message whole: the descriptors ride on the first sendmsg, the rest of a partial write
/// follows without control data, and EAGAIN waits for writability without holding a thread.
/// </summary>
internal static class MessageSender
{
    /// <summary>One non-blocking sendmsg; descriptors must be referenced by the caller.</summary>
    /// <returns>Bytes sent, or minus errno.</returns>
    [SkipLocalsInit]
    public static nint TrySend(int socket, ReadOnlySpan<byte> data, ReadOnlySpan<SafeHandle> descriptors, ReadOnlySpan<byte> address = default)
    {
        if (descriptors.IsEmpty)
        {
            return NativeSocket.SendMessage(socket, data, default, address);
        }

        Span<int> raw = stackalloc int[descriptors.Length];
        for (int i = 0; i < descriptors.Length; i++)
        {
            raw[i] = (int)descriptors[i].DangerousGetHandle();
        }

        ControlMessageLayout layout = ControlMessageLayout.Current;
        var writer = new ControlMessageWriter(stackalloc byte[layout.SpaceForDescriptors(raw.Length)], layout);
        writer.WriteRights(raw);
        return NativeSocket.SendMessage(socket, data, writer.Written, address);
    }

    public static void Send<TMessage>(Socket socket, scoped TMessage message)
        where TMessage : ISendAttempt, allows ref struct
    {
        SocketChannel channel = SocketChannel.Of(socket);
        channel.SendGate.Wait();
        try
        {
            int fd = Acquire(socket, ref message);
            try
            {
                var progress = default(SendProgress);
                while (!progress.TryAdvance(socket, fd, ref message))
                {
                    // The timeout, like cancellation, only applies before the first byte leaves.
                    if (!NativeSocket.WaitBlocking(fd, forWrite: true, progress.Started ? -1 : TimeoutOf(socket.SendTimeout)))
                    {
                        throw new SocketException((int)SocketError.TimedOut);
                    }
                }
            }
            finally
            {
                Release(socket, ref message);
            }
        }
        finally
        {
            channel.SendGate.Release();
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public static async ValueTask SendAsync<TMessage>(Socket socket, TMessage message, CancellationToken cancellationToken)
        where TMessage : ISendAttempt
    {
        SocketChannel channel = SocketChannel.Of(socket);
        await channel.SendGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Held across waits: disposing the socket then shuts it down, which wakes the wait with POLLHUP.
            int fd = Acquire(socket, ref message);
            try
            {
                var progress = default(SendProgress);
                while (!progress.TryAdvance(socket, fd, ref message))
                {
                    // Once a byte has left, the message must be finished: a half-sent one corrupts the stream.
                    await channel.Writable.WaitAsync(fd, progress.Started ? CancellationToken.None : cancellationToken).ConfigureAwait(false);
                }
            }
            finally
            {
                Release(socket, ref message);
            }
        }
        finally
        {
            channel.SendGate.Release();
        }
    }

    /// <summary>Socket timeouts box on every read, so they are read only when a wait is needed.</summary>
    internal static int TimeoutOf(int socketTimeout) => socketTimeout > 0 ? socketTimeout : -1;

    /// <summary>References the socket and every descriptor for the length of the call.</summary>
    /// <returns>The socket's descriptor.</returns>
    private static int Acquire<TMessage>(Socket socket, scoped ref TMessage message)
        where TMessage : ISendAttempt, allows ref struct
    {
        int fd = SocketReference.Acquire(socket);
        try
        {
            message.AddRefDescriptors();
        }
        catch
        {
            SocketReference.Release(socket);
            throw;
        }

        return fd;
    }

    private static void Release<TMessage>(Socket socket, scoped ref TMessage message)
        where TMessage : ISendAttempt, allows ref struct
    {
        message.ReleaseDescriptors();
        SocketReference.Release(socket);
    }

    /// <summary>How far one message has gone: the descriptors leave with the first sendmsg, the rest follows without them.</summary>
    private struct SendProgress
    {
        private int _offset;

        public bool Started { get; private set; }

        /// <summary>Sends as much as the socket takes now.</summary>
        /// <returns><see langword="true"/> when the whole message is sent; <see langword="false"/> when the socket is full.</returns>
        public bool TryAdvance<TMessage>(Socket socket, int fd, scoped ref TMessage message)
            where TMessage : ISendAttempt, allows ref struct
        {
            while (!Started || _offset < message.DataLength)
            {
                nint result = message.TrySend(fd, _offset, withDescriptors: !Started);
                if (result < 0)
                {
                    return -result == Errno.EAGAIN ? false : throw Errors.FromErrno((int)-result, socket);
                }

                _offset += (int)result;
                Started = true;
            }

            return true;
        }
    }
}
