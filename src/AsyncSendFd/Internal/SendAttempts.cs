using System.Runtime.InteropServices;

namespace AsyncSendFd.Internal;

/// <summary>Data and descriptors as spans, for the blocking API.</summary>
internal ref struct SpanMessage(ReadOnlySpan<byte> data, ReadOnlySpan<SafeHandle> descriptors, ReadOnlySpan<byte> address = default) : ISendAttempt
{
    private readonly ReadOnlySpan<byte> _data = data;
    private readonly ReadOnlySpan<SafeHandle> _descriptors = descriptors;
    private readonly ReadOnlySpan<byte> _address = address;
    private TakenHandles _taken;

    public readonly int DataLength => _data.Length;

    public readonly bool HasDestination => !_address.IsEmpty;

    public void TakeDescriptors() => _taken = TakenHandles.Take(_descriptors, "fds");

    public void ReleaseDescriptors() => _taken.Release();

    public readonly nint TrySend(int socket, int offset, bool withDescriptors) =>
        MessageSender.TrySend(socket, _data[offset..], withDescriptors ? _taken.Span : default, _address);
}

/// <summary>Data and descriptors as memory, for the async API.</summary>
internal struct MemoryMessage(ReadOnlyMemory<byte> data, ReadOnlyMemory<SafeHandle> descriptors, ReadOnlyMemory<byte> address = default) : ISendAttempt
{
    private TakenHandles _taken;

    public readonly int DataLength => data.Length;

    public readonly bool HasDestination => !address.IsEmpty;

    public void TakeDescriptors() => _taken = TakenHandles.Take(descriptors.Span, "fds");

    public void ReleaseDescriptors() => _taken.Release();

    public readonly nint TrySend(int socket, int offset, bool withDescriptors) =>
        MessageSender.TrySend(socket, data.Span[offset..], withDescriptors ? _taken.Span : default, address.Span);
}

/// <summary>One descriptor on four zero bytes: the wire format of the Rust crate async-send-fd.</summary>
internal readonly struct SingleDescriptorMessage(SafeHandle descriptor) : ISendAttempt
{
    private static ReadOnlySpan<byte> FourZeroBytes => [0, 0, 0, 0];

    private readonly SafeHandle _descriptor = descriptor;

    public int DataLength => FourZeroBytes.Length;

    public bool HasDestination => false;

    public void TakeDescriptors()
    {
        bool added = false;
        _descriptor.DangerousAddRef(ref added);
    }

    public void ReleaseDescriptors() => _descriptor.DangerousRelease();

    public nint TrySend(int socket, int offset, bool withDescriptors) =>
        MessageSender.TrySend(socket, FourZeroBytes[offset..], withDescriptors ? new ReadOnlySpan<SafeHandle>(in _descriptor) : default);
}
