using System.Runtime.InteropServices;
using AsyncSendFd.Native.Interop.Unix;

namespace AsyncSendFd.Tests.Support;

/// <summary>
/// An owning handle on a duplicate of a descriptor that counts how often it was really closed, so tests can
/// prove the library neither closes a caller's handle nor leaves a reference on it (Dispose must close at once).
/// </summary>
internal sealed class TrackingHandle : SafeHandle
{
    private int _releases;

    public TrackingHandle(SafeHandle original)
        : base(-1, ownsHandle: true)
    {
        int fd = LibC.fcntl((int)original.DangerousGetHandle(), TestLibC.F_DUPFD_CLOEXEC, 0);
        if (fd < 0)
        {
            throw new IOException($"F_DUPFD_CLOEXEC failed with errno {Marshal.GetLastPInvokeError()}");
        }

        SetHandle(fd);
    }

    public int Releases => Volatile.Read(ref _releases);

    public override bool IsInvalid => handle < 0;

    protected override bool ReleaseHandle()
    {
        Interlocked.Increment(ref _releases);
        return LibC.close((int)handle) == 0;
    }
}
