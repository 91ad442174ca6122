using System.Net.Sockets;
using AsyncSendFd.Diagnostics;
using AsyncSendFd.Sockets;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Receiving;

/// <summary>
/// Where a receive puts the message and how it ends: the caller's buffers or the one-descriptor wire format's
/// own, and what a message, the end of the stream or an empty datagram comes to. Data only: nothing here calls back
/// into the loop.
/// </summary>
internal interface IReceiveShape<TResult>
{
    /// <summary>Whether the message lands in 4 bytes and 1 slot of the loop's own (async-send-fd's format) rather than the caller's buffers.</summary>
    static abstract bool IsOneDescriptor { get; }

    /// <summary>A message arrived: <paramref name="bytes"/> data bytes and <paramref name="descriptors"/> handles in <paramref name="slots"/>.</summary>
    static abstract TResult Received(int bytes, int descriptors, Span<SafeFileHandle?> slots);

    static abstract TResult AtEndOfStream();

    /// <summary>An empty datagram with no descriptor: a message, since datagram sockets have no end of stream.</summary>
    static abstract TResult EmptyDatagram();
}

/// <summary>Bytes and descriptors into the caller's buffers (<c>ReceiveFds*</c>).</summary>
internal readonly struct FdsShape : IReceiveShape<FdReceiveResult>
{
    public static bool IsOneDescriptor => false;

    public static FdReceiveResult Received(int bytes, int descriptors, Span<SafeFileHandle?> slots) => new(bytes, descriptors);

    public static FdReceiveResult AtEndOfStream() => default;

    public static FdReceiveResult EmptyDatagram() => default;
}

/// <summary>Exactly one descriptor on 1 to 4 data bytes (<c>ReceiveFd*</c>, the async-send-fd wire format).</summary>
internal readonly struct OneDescriptorShape : IReceiveShape<SafeFileHandle>
{
    public static bool IsOneDescriptor => true;

    public static SafeFileHandle Received(int bytes, int descriptors, Span<SafeFileHandle?> slots)
    {
        // More than one never gets here: the single slot refused them, and they were closed.
        if (descriptors == 0)
        {
            throw NoDescriptor();
        }

        if (bytes == 0)
        {
            // A datagram or seqpacket message with a descriptor but no data byte: not the 1-to-4-byte format.
            slots[0]!.Dispose();
            AsyncSendFdMetrics.MessageRefused(RefusalReason.NoDataByte, 1);
            throw Exceptions.NoDataByte();
        }

        return slots[0]!;
    }

    public static SafeFileHandle AtEndOfStream() =>
        throw new EndOfStreamException("The peer closed the connection before sending a descriptor.");

    public static SafeFileHandle EmptyDatagram() => throw NoDescriptor();

    /// <summary>Counts the refusal of a message that carried no descriptor, and builds its exception.</summary>
    public static IOException NoDescriptor()
    {
        AsyncSendFdMetrics.MessageRefused(RefusalReason.NoDescriptor, 0);
        return Exceptions.NotOneDescriptor(0);
    }
}

/// <summary>One descriptor adopted as a <see cref="Socket"/> (<c>ReceiveSocket*</c>).</summary>
internal readonly struct SocketShape : IReceiveShape<Socket>
{
    public static bool IsOneDescriptor => true;

    public static Socket Received(int bytes, int descriptors, Span<SafeFileHandle?> slots) =>
        SocketAdoption.TryAdopt(OneDescriptorShape.Received(bytes, descriptors, slots)) ?? throw NotASocket();

    public static Socket AtEndOfStream() =>
        throw new EndOfStreamException("The peer closed the connection before sending a socket.");

    public static Socket EmptyDatagram() => throw OneDescriptorShape.NoDescriptor();

    /// <summary>Counts the refusal of a descriptor that is no socket (adoption closed it), and builds its exception.</summary>
    private static IOException NotASocket()
    {
        AsyncSendFdMetrics.MessageRefused(RefusalReason.NotASocket, 1);
        return Exceptions.NotASocket();
    }
}
