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
/// <remarks>
/// A socket being sent is not referenced but copied (<c>F_DUPFD_CLOEXEC</c>) and the copy sent: .NET's
/// <see cref="SafeSocketHandle"/> shuts a socket down when it is disposed while anyone holds a reference (to unblock the
/// holder), and a shutdown acts on the socket itself, for every process holding it, such as the one it is being
/// handed to. The copy is taken without a reference and kept only if the handle is still open afterwards: its
/// descriptor is closed only after it is marked closed, so open then means open throughout the copy.
/// </remarks>
internal struct HandleLease : IDisposable
{
    private SafeHandle? _single;
    private SafeHandle?[]? _many;
    private int _count;
    private int[]? _copies;
    private int _copyCount;

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

    /// <summary>Leases every handle (or copies it, for a socket) and writes the descriptor number to send to <paramref name="descriptors"/>.</summary>
    /// <exception cref="ObjectDisposedException">A handle is disposed; nothing stays referenced or copied.</exception>
    public static HandleLease Of(ReadOnlySpan<SafeHandle> handles, Span<int> descriptors)
    {
        Debug.Assert(descriptors.Length == handles.Length, "one number per handle");
        var lease = new HandleLease { _many = ArrayPool<SafeHandle>.Shared.Rent(handles.Length) };
        try
        {
            for (int i = 0; i < handles.Length; i++)
            {
                SafeHandle handle = handles[i];
                if (handle is SafeSocketHandle && TryCopy(handle, out int copy))
                {
                    lease._copies ??= ArrayPool<int>.Shared.Rent(handles.Length);
                    lease._copies[lease._copyCount++] = copy;
                    descriptors[i] = copy;
                    continue;
                }

                bool added = false;
                handle.DangerousAddRef(ref added);
                descriptors[i] = (int)handle.DangerousGetHandle();
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
                _many[i]!.DangerousRelease();
            }

            ArrayPool<SafeHandle>.Shared.Return(_many!, clearArray: true);
            _many = null;
        }

        if (_copies is not null)
        {
            for (int i = 0; i < _copyCount; i++)
            {
                DescriptorCalls.CloseQuietly(_copies[i]);
            }

            ArrayPool<int>.Shared.Return(_copies);
            _copies = null;
        }

        _count = 0;
        _copyCount = 0;
    }

    /// <summary>Copies a socket's descriptor without referencing its handle.</summary>
    /// <returns><see langword="false"/> when no copy could be made (no descriptor number free): reference it instead.</returns>
    /// <exception cref="ObjectDisposedException">The handle is disposed.</exception>
    private static bool TryCopy(SafeHandle handle, out int copy)
    {
        ObjectDisposedException.ThrowIf(handle.IsClosed, handle);
        copy = DescriptorCalls.DuplicateCloseOnExec((int)handle.DangerousGetHandle());
        if (handle.IsClosed)
        {
            // Closed meanwhile: the number may have been reused for another file, so the copy may be of that one.
            if (copy >= 0)
            {
                DescriptorCalls.CloseQuietly(copy);
            }

            throw new ObjectDisposedException(handle.GetType().FullName);
        }

        return copy >= 0;
    }
}
