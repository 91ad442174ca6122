using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using AsyncSendFd.Engine;
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
        message.TakeDescriptors();
        try
        {
            SocketChannel channel = SocketChannel.Of(socket);
            channel.SendGate.Wait();
            try
            {
                var progress = default(SendProgress);
                var deadline = default(Deadline);
                var backoff = default(DestinationBackoff);
                while (true)
                {
                    // The socket is referenced around the syscalls only: Dispose never waits for a waiting send.
                    int fd = SocketReference.Acquire(socket);
                    try
                    {
                        if (progress.TryAdvance(socket, fd, ref message))
                        {
                            return;
                        }

                        if (!message.HasDestination)
                        {
                            channel.Readiness.ArmBlocking(Interest.Write, fd);
                        }
                    }
                    finally
                    {
                        SocketReference.Release(socket);
                    }

                    // The timeout, like cancellation, only applies before the first byte leaves.
                    if (!progress.Started && !deadline.IsStarted)
                    {
                        deadline.Start(socket.SendTimeout);
                    }

                    int timeout = progress.Started ? Timeout.Infinite : deadline.RemainingMilliseconds;
                    int outcome = message.HasDestination
                        ? SleepBeforeRetry(ref backoff, timeout)
                        : channel.Readiness.WaitBlocking(Interest.Write, timeout);
                    ThrowIfFailed(outcome, socket);
                }
            }
            finally
            {
                channel.SendGate.Release();
            }
        }
        finally
        {
            message.ReleaseDescriptors();
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public static async ValueTask SendAsync<TMessage>(Socket socket, TMessage message, CancellationToken cancellationToken)
        where TMessage : ISendAttempt
    {
        message.TakeDescriptors(); // before the first await: the caller's collection is read while the call is still its
        try
        {
            SocketChannel channel = SocketChannel.Of(socket);
            await channel.SendGate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var progress = default(SendProgress);
                var backoff = default(DestinationBackoff);
                while (true)
                {
                    ValueTask<int> writable = default;
                    int fd = SocketReference.Acquire(socket);
                    try
                    {
                        if (progress.TryAdvance(socket, fd, ref message))
                        {
                            return;
                        }

                        if (!message.HasDestination)
                        {
                            // Once a byte has left, the message must be finished: a half-sent one corrupts the stream.
                            writable = channel.Readiness.WaitAsync(Interest.Write, fd, progress.Started ? CancellationToken.None : cancellationToken);
                        }
                    }
                    finally
                    {
                        SocketReference.Release(socket);
                    }

                    if (message.HasDestination)
                    {
                        await Task.Delay(backoff.NextMilliseconds(), cancellationToken).ConfigureAwait(false);
                    }
                    else
                    {
                        ThrowIfFailed(await writable.ConfigureAwait(false), socket);
                    }
                }
            }
            finally
            {
                channel.SendGate.Release();
            }
        }
        finally
        {
            message.ReleaseDescriptors();
        }
    }

    /// <summary>Turns a wait's outcome into the exception the caller sees, if it failed.</summary>
    internal static void ThrowIfFailed(int outcome, Socket socket)
    {
        if (outcome == ReadinessWaiter.TimedOut)
        {
            throw new SocketException((int)SocketError.TimedOut);
        }

        if (outcome != ReadinessWaiter.Ready)
        {
            throw Errors.FromErrno(outcome, socket);
        }
    }

    private static int SleepBeforeRetry(ref DestinationBackoff backoff, int timeoutMilliseconds)
    {
        if (timeoutMilliseconds == 0)
        {
            return ReadinessWaiter.TimedOut;
        }

        int delay = backoff.NextMilliseconds();
        Thread.Sleep(timeoutMilliseconds < 0 ? delay : Math.Min(delay, timeoutMilliseconds));
        return ReadinessWaiter.Ready;
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
