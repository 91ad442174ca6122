using System.Buffers;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using AsyncSendFd.Syscalls;

namespace AsyncSendFd.Sending;

/// <summary>
/// The handles a send carries, read from the caller's collection exactly once, at the call: replacing an element
/// while the send waits changes nothing. No reference is held here; each sendmsg that carries them leases them
/// (<see cref="Lease"/>) for that syscall only.
/// </summary>
internal struct OutgoingHandles : IDisposable
{
    private SafeHandle? _single;
    private SafeHandle[]? _many;

    public int Count { readonly get; private set; }

    public static OutgoingHandles One(SafeHandle handle) => new() { _single = handle, Count = 1 };

    /// <exception cref="ArgumentNullException">An element is null.</exception>
    public static OutgoingHandles Of(ReadOnlySpan<SafeHandle> handles, string paramName)
    {
        if (handles.Length <= 1)
        {
            return handles.IsEmpty ? default : One(handles[0] ?? throw new ArgumentNullException(paramName));
        }

        SafeHandle[] many = ArrayPool<SafeHandle>.Shared.Rent(handles.Length);
        for (int i = 0; i < handles.Length; i++)
        {
            many[i] = handles[i] ?? throw Returned(many, new ArgumentNullException(paramName));
        }

        return new OutgoingHandles { _many = many, Count = handles.Length };
    }

    /// <summary>
    /// References every handle for one sendmsg (copies a socket's descriptor instead, see <see cref="HandleLease"/>) and
    /// writes the descriptor numbers to send to <paramref name="descriptors"/>.
    /// </summary>
    /// <exception cref="ObjectDisposedException">A handle was disposed since the call began; nothing was sent.</exception>
    public readonly HandleLease Lease(Span<int> descriptors)
    {
        if (_single is not null and not SafeSocketHandle)
        {
            HandleLease lease = HandleLease.Of(_single);
            descriptors[0] = lease.Descriptor;
            return lease;
        }

        return _single is not null
            ? HandleLease.Of(new ReadOnlySpan<SafeHandle>(in _single), descriptors)
            : HandleLease.Of(_many.AsSpan(0, Count), descriptors);
    }

    public void Dispose()
    {
        if (_many is not null)
        {
            ArrayPool<SafeHandle>.Shared.Return(_many, clearArray: true);
        }

        this = default;
    }

    private static Exception Returned(SafeHandle[] many, Exception exception)
    {
        ArrayPool<SafeHandle>.Shared.Return(many, clearArray: true);
        return exception;
    }
}
