using CommunityToolkit.HighPerformance.Buffers;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd;

/// <summary>
/// One message received by <see cref="FdMessageChannel"/>: a pooled payload and exactly the descriptors sent with it.
/// </summary>
/// <remarks>
/// The message owns both: <see cref="Dispose"/> returns the payload buffer and closes every descriptor
/// not taken with <see cref="TakeFd"/>. Dispose it, and take what you keep.
/// </remarks>
public sealed class FdMessage : IDisposable
{
    private readonly MemoryOwner<byte> _payload;
    private readonly SafeFileHandle?[] _fds;
    private bool _disposed;

    internal FdMessage(MemoryOwner<byte> payload, SafeFileHandle?[] fds)
    {
        _payload = payload;
        _fds = fds;
    }

    /// <summary>The payload; valid until the message is disposed.</summary>
    /// <exception cref="ObjectDisposedException">The message is disposed.</exception>
    public ReadOnlyMemory<byte> Payload
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _payload.Memory;
        }
    }

    /// <summary>How many descriptors came with the payload.</summary>
    public int FdCount => _fds.Length;

    /// <summary>Takes ownership of one descriptor: the message will no longer close it.</summary>
    /// <param name="index">0 to <see cref="FdCount"/> - 1.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is out of range.</exception>
    /// <exception cref="InvalidOperationException">That descriptor was taken already.</exception>
    /// <exception cref="ObjectDisposedException">The message is disposed.</exception>
    public SafeFileHandle TakeFd(int index)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, _fds.Length);
        SafeFileHandle handle = _fds[index] ?? throw new InvalidOperationException($"Descriptor {index} was taken already.");
        _fds[index] = null;
        return handle;
    }

    /// <summary>Returns the payload buffer and closes every descriptor not taken.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _payload.Dispose();
        foreach (SafeFileHandle? fd in _fds)
        {
            fd?.Dispose();
        }
    }
}
