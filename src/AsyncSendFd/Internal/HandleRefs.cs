using System.Runtime.InteropServices;

namespace AsyncSendFd.Internal;

/// <summary>
/// Holds a reference on handles for the length of a call, so a concurrent Dispose cannot close
/// (and let the kernel reuse) a descriptor while it is being sent or used.
/// </summary>
internal static class HandleRefs
{
    /// <exception cref="ObjectDisposedException">A handle was disposed; none stay referenced.</exception>
    public static void AddAll(ReadOnlySpan<SafeHandle> handles)
    {
        int taken = 0;
        try
        {
            for (; taken < handles.Length; taken++)
            {
                bool added = false;
                handles[taken].DangerousAddRef(ref added);
            }
        }
        catch
        {
            ReleaseAll(handles[..taken]);
            throw;
        }
    }

    public static void ReleaseAll(ReadOnlySpan<SafeHandle> handles)
    {
        foreach (SafeHandle handle in handles)
        {
            handle.DangerousRelease();
        }
    }
}
