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
        bool socketAdded = false;
        try
        {
            socket.SafeHandle.DangerousAddRef(ref socketAdded);
            message.AddRefDescriptors();
            try
            {
                int fd = (int)socket.SafeHandle.DangerousGetHandle();
                int offset = 0;
                bool first = true;
                while (first || offset < message.DataLength)
                {
                    nint result = message.TrySend(fd, offset, withDescriptors: first);
                    if (result >= 0)
                    {
                        offset += (int)result;
                        first = false;
                    }
                    else if (-result == Errno.EAGAIN)
                    {
                        // The timeout, like cancellation, only applies before the first byte leaves.
                        if (!NativeSocket.WaitBlocking(fd, forWrite: true, first ? TimeoutOf(socket.SendTimeout) : -1))
                        {
                            throw new SocketException((int)SocketError.TimedOut);
                        }
                    }
                    else
                    {
                        throw Errors.FromErrno((int)-result, socket);
                    }
                }
            }
            finally
            {
                message.ReleaseDescriptors();
            }
        }
        finally
        {
            if (socketAdded)
            {
                socket.SafeHandle.DangerousRelease();
            }

            channel.SendGate.Release();
        }
    }

    /// <summary>Socket timeouts box on every read, so they are read only when a wait is needed.</summary>
    internal static int TimeoutOf(int socketTimeout) => socketTimeout > 0 ? socketTimeout : -1;

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public static async ValueTask SendAsync<TMessage>(Socket socket, TMessage message, CancellationToken cancellationToken)
        where TMessage : ISendAttempt
    {
        SocketChannel channel = SocketChannel.Of(socket);
        await channel.SendGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        bool socketAdded = false;
        try
        {
            // Held across waits: disposing the socket then shuts it down, which wakes the wait with POLLHUP.
            socket.SafeHandle.DangerousAddRef(ref socketAdded);
            message.AddRefDescriptors();
            try
            {
                int fd = (int)socket.SafeHandle.DangerousGetHandle();
                int offset = 0;
                bool first = true;
                while (first || offset < message.DataLength)
                {
                    nint result = message.TrySend(fd, offset, withDescriptors: first);
                    if (result >= 0)
                    {
                        offset += (int)result;
                        first = false;
                    }
                    else if (-result == Errno.EAGAIN)
                    {
                        // Once a byte has left, the message must be finished: a half-sent one corrupts the stream.
                        await channel.Writable.WaitAsync(fd, first ? cancellationToken : CancellationToken.None).ConfigureAwait(false);
                    }
                    else
                    {
                        throw Errors.FromErrno((int)-result, socket);
                    }
                }
            }
            finally
            {
                message.ReleaseDescriptors();
            }
        }
        finally
        {
            if (socketAdded)
            {
                socket.SafeHandle.DangerousRelease();
            }

            channel.SendGate.Release();
        }
    }
}
