using System.Buffers;
using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace AsyncSendFd.Syscalls;

/// <summary>
/// References on handles around one syscall, as a <see langword="using"/> scope, so a concurrent Dispose cannot
/// close (and let the kernel reuse) a descriptor under it. Never held across a wait: disposing a socket or a handle
/// being sent then returns at once, and the call reports <see cref="ObjectDisposedException"/> at its next syscall.
/// </summary>
internal struct HandleLease : IDisposable
{
    private SafeHandle? _single;
    private SafeHandle[]? _many;
    private int _count;

    /// <summary>The descriptor of a lease of one handle.</summary>
    public readonly int Descriptor => (int)_single!.DangerousGetHandle();

    /// <exception cref="ObjectDisposedException">The handle is disposed.</exception>
    public static HandleLease Of(SafeHandle handle)
    {
        bool added = false;
        handle.DangerousAddRef(ref added);
        return new HandleLease { _single = handle, _count = 1 };
    }

    /// <exception cref="ObjectDisposedException">The socket is disposed, named as <see cref="Socket"/> names itself.</exception>
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

    /// <summary>Leases every handle and writes its descriptor number to <paramref name="descriptors"/>.</summary>
    /// <exception cref="ObjectDisposedException">A handle is disposed; none stays referenced.</exception>
    public static HandleLease Of(ReadOnlySpan<SafeHandle> handles, Span<int> descriptors)
    {
        Debug.Assert(descriptors.Length == handles.Length, "one number per handle");
        var lease = new HandleLease { _many = ArrayPool<SafeHandle>.Shared.Rent(handles.Length) };
        try
        {
            foreach (SafeHandle handle in handles)
            {
                bool added = false;
                handle.DangerousAddRef(ref added);
                descriptors[lease._count] = (int)handle.DangerousGetHandle();
                lease._many[lease._count++] = handle;
            }
        }
        catch
        {
            lease.Dispose();
            throw;
        }

        return lease;
    }

    /// <summary>The exception for a call on a disposed socket, named as <see cref="Socket"/> names itself.</summary>
    public static ObjectDisposedException SocketDisposed() => new("System.Net.Sockets.Socket");

    public void Dispose()
    {
        _single?.DangerousRelease();
        _single = null;
        if (_many is not null)
        {
            for (int i = 0; i < _count; i++)
            {
                _many[i].DangerousRelease();
            }

            ArrayPool<SafeHandle>.Shared.Return(_many, clearArray: true);
            _many = null;
        }

        _count = 0;
    }
}
