using System.Buffers;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace AsyncSendFd.Syscalls;

/// <summary>
/// References on handles, taken once and released once, so a concurrent Dispose cannot close (and let the kernel
/// reuse) a descriptor under a syscall. The socket is leased around each syscall, never across a wait; the handles
/// being sent are leased for the whole call, read from the caller's collection exactly once.
/// </summary>
internal struct HandleLease
{
    private SafeHandle? _single;
    private SafeHandle[]? _rented;
    private int _count;

    /// <summary>How many handles are leased.</summary>
    public readonly int Count => _count;

    /// <summary>The descriptor of a lease of one handle.</summary>
    public readonly int Descriptor => (int)_single!.DangerousGetHandle();

    /// <exception cref="ObjectDisposedException">The handle is disposed.</exception>
    public static HandleLease Of(SafeHandle handle)
    {
        bool added = false;
        handle.DangerousAddRef(ref added);
        return new HandleLease { _single = handle, _count = 1 };
    }

    /// <exception cref="ObjectDisposedException">The socket is disposed.</exception>
    public static HandleLease OfSocket(Socket socket)
    {
        try
        {
            return Of(socket.SafeHandle);
        }
        catch (ObjectDisposedException)
        {
            throw SocketDisposed();
        }
    }

    /// <exception cref="ArgumentNullException">An element is null.</exception>
    /// <exception cref="ObjectDisposedException">A handle is disposed; none stay referenced.</exception>
    public static HandleLease Of(ReadOnlySpan<SafeHandle> handles, string paramName)
    {
        if (handles.Length <= 1)
        {
            return handles.IsEmpty ? default : Of(handles[0] ?? throw new ArgumentNullException(paramName));
        }

        var lease = new HandleLease { _rented = ArrayPool<SafeHandle>.Shared.Rent(handles.Length) };
        try
        {
            foreach (SafeHandle handle in handles)
            {
                ArgumentNullException.ThrowIfNull(handle, paramName);
                bool added = false;
                handle.DangerousAddRef(ref added);
                lease._rented[lease._count++] = handle;
            }
        }
        catch
        {
            lease.Release();
            throw;
        }

        return lease;
    }

    /// <summary>The exception for a call on a disposed socket, named as <see cref="Socket"/> names itself.</summary>
    public static ObjectDisposedException SocketDisposed() => new("System.Net.Sockets.Socket");

    /// <summary>Writes the leased descriptors' numbers, which stay valid until <see cref="Release"/>.</summary>
    public readonly void WriteDescriptors(Span<int> destination)
    {
        if (_single is not null)
        {
            destination[0] = (int)_single.DangerousGetHandle();
            return;
        }

        for (int i = 0; i < _count; i++)
        {
            destination[i] = (int)_rented![i].DangerousGetHandle();
        }
    }

    public void Release()
    {
        if (_single is not null)
        {
            _single.DangerousRelease();
            _single = null;
        }
        else if (_rented is not null)
        {
            for (int i = 0; i < _count; i++)
            {
                _rented[i].DangerousRelease();
            }

            ArrayPool<SafeHandle>.Shared.Return(_rented, clearArray: true);
            _rented = null;
        }

        _count = 0;
    }
}
