using System.Buffers;
using System.Runtime.InteropServices;

namespace AsyncSendFd.Internal;

/// <summary>
/// The handles of one send, read from the caller's collection once and referenced until the call ends, so that
/// replacing an element mid-call can neither leave a reference behind nor release one that was never taken.
/// </summary>
internal struct TakenHandles
{
    private SafeHandle[]? _handles;
    private int _count;

    public readonly ReadOnlySpan<SafeHandle> Span => _handles.AsSpan(0, _count);

    /// <exception cref="ArgumentNullException">An element is null.</exception>
    /// <exception cref="ObjectDisposedException">A handle was disposed; none stay referenced.</exception>
    public static TakenHandles Take(ReadOnlySpan<SafeHandle> handles, string paramName)
    {
        var taken = new TakenHandles();
        if (handles.IsEmpty)
        {
            return taken;
        }

        taken._handles = ArrayPool<SafeHandle>.Shared.Rent(handles.Length);
        try
        {
            foreach (SafeHandle handle in handles)
            {
                ArgumentNullException.ThrowIfNull(handle, paramName);
                bool added = false;
                handle.DangerousAddRef(ref added);
                taken._handles[taken._count++] = handle;
            }
        }
        catch
        {
            taken.Release();
            throw;
        }

        return taken;
    }

    public void Release()
    {
        if (_handles is null)
        {
            return;
        }

        foreach (SafeHandle handle in Span)
        {
            handle.DangerousRelease();
        }

        ArrayPool<SafeHandle>.Shared.Return(_handles, clearArray: true);
        _handles = null;
        _count = 0;
    }
}
