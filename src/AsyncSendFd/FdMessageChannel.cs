using System.Net.Sockets;
using System.Runtime.InteropServices;
using AsyncSendFd.Framing;
using AsyncSendFd.Sockets;
using CommunityToolkit.HighPerformance.Buffers;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd;

/// <summary>
/// Messages, rather than bytes, over a Unix stream socket: each frame is a header (payload length,
/// descriptor count) with the descriptors riding on it, then the payload. A receive returns one whole
/// payload and exactly its descriptors, however the kernel splits the bytes.
/// </summary>
/// <remarks>
/// <para>
/// Small messages are copied with their header into one pooled buffer and sent in one call;
/// payloads of <see cref="CopyThreshold"/> bytes or more are sent from the caller's memory, after the
/// header. Received payloads land in pooled buffers (<see cref="FdMessage"/> returns them).
/// </para>
/// <para>
/// The channel must own every read and write on the socket. Sends may run concurrently with each
/// other and with receives; each frame leaves whole.
/// </para>
/// <para>
/// Cancellation is honoured through the whole frame, so a peer that stalls midway pins nobody. Canceled
/// before the frame's first byte moved, a call leaves the stream as it was. Abandoned after that (canceled,
/// broken or failed), and also when a send fails before its first byte for any reason but cancellation or a bad
/// argument, or a frame is refused on its first read, the frame's descriptors are closed and the channel is
/// faulted: the stream is out of step, and every later call, send or receive, throws
/// <see cref="InvalidOperationException"/>. One sendmsg that has started still completes (see
/// <see cref="SocketFdExtensions.SendFdsAsync"/>).
/// </para>
/// </remarks>
public sealed class FdMessageChannel
{
    /// <summary>Payloads this long or longer are sent without copying.</summary>
    public const int CopyThreshold = 64 * 1024;

    private readonly Socket _socket;
    private readonly int _maxPayloadLength;
    private readonly SemaphoreSlim _sendGate = new(1, 1);
    private readonly SemaphoreSlim _receiveGate = new(1, 1);
    private readonly byte[] _sendHeader = new byte[FrameHeader.Size];
    private readonly byte[] _receiveHeader = new byte[FrameHeader.Size];
    private readonly SafeFileHandle?[] _slots = new SafeFileHandle?[SocketFdExtensions.MaxFdsPerMessage];
    private Exception? _fault;

    /// <summary>Frames messages over a connected Unix stream socket; the caller keeps ownership of the socket.</summary>
    /// <param name="socket">A connected Unix stream socket.</param>
    /// <param name="maxPayloadLength">The largest payload a receive accepts (a guard against hostile lengths); 16 MiB by default.</param>
    /// <exception cref="ArgumentNullException"><paramref name="socket"/> is null.</exception>
    /// <exception cref="NotSupportedException">The socket is not a Unix stream socket.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxPayloadLength"/> is negative.</exception>
    public FdMessageChannel(Socket socket, int maxPayloadLength = 16 * 1024 * 1024)
    {
        Validate.Socket(socket);
        if (socket.SocketType != SocketType.Stream)
        {
            throw new NotSupportedException("Framing is for stream sockets; datagram and seqpacket sockets keep message boundaries themselves.");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(maxPayloadLength);
        _socket = socket;
        _maxPayloadLength = maxPayloadLength;
    }

    /// <summary>Sends one message: <paramref name="payload"/> with up to <see cref="SocketFdExtensions.MaxFdsPerMessage"/> descriptors.</summary>
    /// <param name="payload">The payload; may be empty.</param>
    /// <param name="fds">The descriptors; the caller keeps ownership.</param>
    /// <param name="cancellationToken">Honoured through the frame; canceled after its first byte left, the channel is faulted.</param>
    /// <exception cref="ArgumentNullException">A handle is null.</exception>
    /// <exception cref="ObjectDisposedException">The socket or a handle is disposed.</exception>
    /// <exception cref="ArgumentException">A handle is invalid.</exception>
    /// <exception cref="ArgumentOutOfRangeException">Too many descriptors.</exception>
    /// <exception cref="SocketException">The send failed.</exception>
    /// <exception cref="OperationCanceledException">Canceled; if the frame had started, the channel is now faulted.</exception>
    /// <exception cref="InvalidOperationException">An earlier frame was abandoned midway: the channel is faulted.</exception>
    public async ValueTask SendAsync(ReadOnlyMemory<byte> payload, ReadOnlyMemory<SafeHandle> fds = default, CancellationToken cancellationToken = default)
    {
        Validate.Handles(fds.Span, nameof(fds));
        await _sendGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfFaulted();
            var header = new FrameHeader(payload.Length, fds.Length);
            bool started = false;
            try
            {
                if (payload.Length < CopyThreshold)
                {
                    using MemoryOwner<byte> frame = MemoryOwner<byte>.Allocate(FrameHeader.Size + payload.Length);
                    header.Write(frame.Span);
                    payload.Span.CopyTo(frame.Span[FrameHeader.Size..]);
                    await _socket.SendFdsAsync(frame.Memory, fds, cancellationToken).ConfigureAwait(false);
                    return;
                }

                // The send gate makes the header buffer this frame's alone.
                header.Write(_sendHeader);
                await _socket.SendFdsAsync(_sendHeader, fds, cancellationToken).ConfigureAwait(false);
                started = true;
                await _socket.SendFdsAsync(payload, default, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (started || e is not OperationCanceledException)
            {
                // Only a cancellation of the first sendmsg is sure to have written nothing (SendFdsAsync cancels only before its first byte).
                Fault(e);
                throw;
            }
        }
        finally
        {
            _sendGate.Release();
        }
    }

    /// <summary>Receives one whole message.</summary>
    /// <param name="cancellationToken">
    /// Honoured through the frame. Canceled before its first byte arrived, the frame stays in the socket for the next receive;
    /// after that, what came of it is closed and the channel is faulted.
    /// </param>
    /// <returns>The message, which the caller disposes; <see langword="null"/> when the peer closed the connection between frames.</returns>
    /// <exception cref="EndOfStreamException">The peer closed the connection in the middle of a frame; descriptors that came were closed.</exception>
    /// <exception cref="IOException">The frame broke the protocol (descriptor count, length over the limit, descriptors on payload bytes); descriptors that came were closed.</exception>
    /// <exception cref="ObjectDisposedException">The socket is disposed.</exception>
    /// <exception cref="SocketException">The receive failed.</exception>
    /// <exception cref="OperationCanceledException">Canceled; if the frame had started, the channel is now faulted.</exception>
    /// <exception cref="InvalidOperationException">An earlier frame was abandoned midway: the channel is faulted.</exception>
    /// <remarks>
    /// Every exception thrown after the frame's first byte arrived faults the channel, and so does an
    /// <see cref="IOException"/> on its first read (a frame refused because, say, this process was out of descriptors
    /// and the kernel truncated its control data): the refused read consumed bytes of the frame, so the stream is out
    /// of step.
    /// </remarks>
    public async ValueTask<FdMessage?> ReceiveAsync(CancellationToken cancellationToken = default)
    {
        await _receiveGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        var fds = new List<SafeFileHandle>();
        MemoryOwner<byte>? payload = null;
        int received = 0;
        try
        {
            ThrowIfFaulted();
            while (received < FrameHeader.Size)
            {
                FdReceiveResult result = await _socket.ReceiveFdsAsync(_receiveHeader.AsMemory(received), _slots, cancellationToken).ConfigureAwait(false);
                TakeSlots(result.FdCount, fds);
                if (result.BytesReceived == 0)
                {
                    return received == 0 && fds.Count == 0 ? null : throw EndedInFrame();
                }

                received += result.BytesReceived;
            }

            FrameHeader header = FrameHeader.Read(_receiveHeader);
            int fdCount = fds.Count;
            if (header.FdCount != fdCount || header.PayloadLength < 0 || header.PayloadLength > _maxPayloadLength)
            {
                DisposeAll(fds);
                throw new IOException(
                    $"Bad frame: header announces {header.PayloadLength} bytes and {header.FdCount} descriptors, "
                    + $"{fdCount} descriptors came (payload limit {_maxPayloadLength}).");
            }

            payload = MemoryOwner<byte>.Allocate(header.PayloadLength);
            for (int payloadReceived = 0; payloadReceived < header.PayloadLength;)
            {
                FdReceiveResult result = await _socket.ReceiveFdsAsync(payload.Memory[payloadReceived..], _slots, cancellationToken).ConfigureAwait(false);
                if (result.FdCount > 0)
                {
                    TakeSlots(result.FdCount, fds);
                    DisposeAll(fds);
                    throw new IOException("Bad frame: descriptors arrived on payload bytes.");
                }

                payloadReceived += result.BytesReceived > 0 ? result.BytesReceived : throw EndedInFrame();
            }

            var message = new FdMessage(payload, [.. fds]);
            payload = null;
            fds.Clear();
            return message;
        }
        catch (Exception e) when (received > 0 || e is IOException)
        {
            // Part of a frame was consumed (a message refused on the first read, MSG_CTRUNC say, was consumed too):
            // the next byte is no frame's start, so nothing more can be read.
            DisposeAll(fds);
            Fault(e);
            throw;
        }
        finally
        {
            payload?.Dispose();
            DisposeAll(fds);
            _receiveGate.Release();
        }
    }

    private void ThrowIfFaulted()
    {
        if (Volatile.Read(ref _fault) is { } fault)
        {
            throw new InvalidOperationException(
                "The channel is faulted: a frame was abandoned midway, so the stream is out of step. Close the socket.", fault);
        }
    }

    private void Fault(Exception cause) => Interlocked.CompareExchange(ref _fault, cause, null);

    /// <summary>Closes every descriptor and empties the list, so a later pass has nothing left to close.</summary>
    private static void DisposeAll(List<SafeFileHandle> fds)
    {
        foreach (SafeFileHandle fd in fds)
        {
            fd.Dispose();
        }

        fds.Clear();
    }

    private void TakeSlots(int count, List<SafeFileHandle> destination)
    {
        for (int i = 0; i < count; i++)
        {
            destination.Add(_slots[i]!);
            _slots[i] = null;
        }
    }

    private static EndOfStreamException EndedInFrame() => new("The peer closed the connection in the middle of a frame.");
}
