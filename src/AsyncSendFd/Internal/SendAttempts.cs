using System.Runtime.InteropServices;

namespace AsyncSendFd.Internal;

/// <summary>Data and descriptors as spans, for the blocking API.</summary>
internal readonly ref struct SpanMessage(ReadOnlySpan<byte> data, ReadOnlySpan<SafeHandle> descriptors, ReadOnlySpan<byte> address = default) : ISendAttempt
{
    private readonly ReadOnlySpan<byte> _data = data;
    private readonly ReadOnlySpan<SafeHandle> _descriptors = descriptors;
    private readonly ReadOnlySpan<byte> _address = address;

    public int DataLength => _data.Length;

    public void AddRefDescriptors() => HandleRefs.AddAll(_descriptors);

    public void ReleaseDescriptors() => HandleRefs.ReleaseAll(_descriptors);

    public nint TrySend(int socket, int offset, bool withDescriptors) =>
        MessageSender.TrySend(socket, _data[offset..], withDescriptors ? _descriptors : default, _address);
}

/// <summary>Data and descriptors as memory, for the async API.</summary>
internal readonly struct MemoryMessage(ReadOnlyMemory<byte> data, ReadOnlyMemory<SafeHandle> descriptors, ReadOnlyMemory<byte> address = default) : ISendAttempt
{
    public int DataLength => data.Length;

    public void AddRefDescriptors() => HandleRefs.AddAll(descriptors.Span);

    public void ReleaseDescriptors() => HandleRefs.ReleaseAll(descriptors.Span);

    public nint TrySend(int socket, int offset, bool withDescriptors) =>
        MessageSender.TrySend(socket, data.Span[offset..], withDescriptors ? descriptors.Span : default, address.Span);
}

/// <summary>One descriptor on four zero bytes: the wire format of the Rust crate async-send-fd.</summary>
internal readonly struct SingleDescriptorMessage(SafeHandle descriptor) : ISendAttempt
{
    private static ReadOnlySpan<byte> FourZeroBytes => [0, 0, 0, 0];

    private readonly SafeHandle _descriptor = descriptor;

    public int DataLength => FourZeroBytes.Length;

    public void AddRefDescriptors() => HandleRefs.AddAll(new ReadOnlySpan<SafeHandle>(in _descriptor));

    public void ReleaseDescriptors() => _descriptor.DangerousRelease();

    public nint TrySend(int socket, int offset, bool withDescriptors) =>
        MessageSender.TrySend(socket, FourZeroBytes[offset..], withDescriptors ? new ReadOnlySpan<SafeHandle>(in _descriptor) : default);
}
