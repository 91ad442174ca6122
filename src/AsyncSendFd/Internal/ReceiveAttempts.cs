using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Internal;

/// <summary>Data and descriptor slots as spans, for the blocking API.</summary>
internal readonly ref struct SpanReceive(Span<byte> data, Span<SafeFileHandle?> slots) : IReceiveAttempt<FdReceiveResult>
{
    private readonly Span<byte> _data = data;
    private readonly Span<SafeFileHandle?> _slots = slots;

    public ReceiveStatus TryReceive(int socket, out FdReceiveResult result, out int errno)
    {
        nint received = MessageReceiver.TryReceive(socket, _data, _slots, out int count);
        result = new FdReceiveResult((int)Math.Max(received, 0), count);
        errno = received < 0 ? (int)-received : 0;
        return MessageReceiver.StatusOf(received, count, errno);
    }

    public FdReceiveResult AtEndOfStream() => default;

    public FdReceiveResult EmptyDatagram() => default;
}

/// <summary>Data and descriptor slots as memory, for the async API.</summary>
internal readonly struct MemoryReceive(Memory<byte> data, Memory<SafeFileHandle?> slots) : IReceiveAttempt<FdReceiveResult>
{
    public ReceiveStatus TryReceive(int socket, out FdReceiveResult result, out int errno) =>
        new SpanReceive(data.Span, slots.Span).TryReceive(socket, out result, out errno);

    public FdReceiveResult AtEndOfStream() => default;

    public FdReceiveResult EmptyDatagram() => default;
}

/// <summary>Exactly one descriptor on 1 to 4 data bytes (the async-send-fd wire format).</summary>
internal readonly struct SingleDescriptorReceive : IReceiveAttempt<SafeFileHandle>
{
    [SkipLocalsInit]
    public ReceiveStatus TryReceive(int socket, out SafeFileHandle result, out int errno)
    {
        Span<byte> data = stackalloc byte[4];
        SafeFileHandle? slot = null;
        nint received = MessageReceiver.TryReceive(socket, data, new Span<SafeFileHandle?>(ref slot), out int count);
        errno = received < 0 ? (int)-received : 0;
        ReceiveStatus status = MessageReceiver.StatusOf(received, count, errno);
        if (status == ReceiveStatus.Received && received == 0)
        {
            // A datagram or seqpacket message with a descriptor but no data byte: not the 1-to-4-byte format.
            slot?.Dispose();
            throw Errors.NoDataByte();
        }

        if (status == ReceiveStatus.Received && count != 1)
        {
            throw Errors.NotOneDescriptor(count);
        }

        result = slot!;
        return status;
    }

    public SafeFileHandle AtEndOfStream() =>
        throw new EndOfStreamException("The peer closed the connection before sending a descriptor.");

    public SafeFileHandle EmptyDatagram() => throw Errors.NotOneDescriptor(0);
}

/// <summary>One descriptor, adopted as a <see cref="Socket"/>.</summary>
internal readonly struct SocketReceive : IReceiveAttempt<Socket>
{
    public ReceiveStatus TryReceive(int socket, out Socket result, out int errno)
    {
        ReceiveStatus status = default(SingleDescriptorReceive).TryReceive(socket, out SafeFileHandle handle, out errno);
        result = status == ReceiveStatus.Received ? MessageReceiver.AdoptSocket(handle) : null!;
        return status;
    }

    public Socket AtEndOfStream() =>
        throw new EndOfStreamException("The peer closed the connection before sending a socket.");

    public Socket EmptyDatagram() => throw Errors.NotOneDescriptor(0);
}
