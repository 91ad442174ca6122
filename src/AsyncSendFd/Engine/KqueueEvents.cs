using System.Runtime.Versioning;
using Darwin = AsyncSendFd.Native.Interop.Darwin;

namespace AsyncSendFd.Engine;

/// <summary>
/// The whole of kqueue's meaning for the engine, as pure functions over <c>struct kevent</c>, so that the tests
/// check it on Linux. A kqueue registration is per descriptor and filter, so each direction is armed on its own,
/// one-shot (<c>EV_ONESHOT</c>), and <c>EV_RECEIPT</c> returns each change's errno instead of pending events.
/// </summary>
[SupportedOSPlatform("macos")]
internal static class KqueueEvents
{
    /// <summary>Writes one change per direction in <paramref name="interest"/>.</summary>
    /// <returns>How many changes were written (0 to 2).</returns>
    public static int WriteChanges(int fd, ulong token, Interest interest, Span<Darwin.kevent> changes)
    {
        int count = 0;
        if ((interest & Interest.Read) != 0)
        {
            changes[count++] = Change(fd, Darwin.LibC.EVFILT_READ, token);
        }

        if ((interest & Interest.Write) != 0)
        {
            changes[count++] = Change(fd, Darwin.LibC.EVFILT_WRITE, token);
        }

        return count;
    }

    /// <summary>The errno a receipt reports: with <c>EV_RECEIPT</c> every change comes back flagged <c>EV_ERROR</c>, with 0 on success.</summary>
    public static int ErrnoOf(in Darwin.kevent receipt) => (receipt.flags & Darwin.LibC.EV_ERROR) != 0 ? (int)receipt.data : 0;

    /// <summary>Turns a reported event into the engine's terms.</summary>
    /// <returns><see langword="false"/> for an event of another filter, which carries no registration.</returns>
    public static bool TryDecode(in Darwin.kevent reported, out ReadinessEvent decoded)
    {
        // EV_EOF and EV_ERROR arrive on the filter of the direction that was armed; retrying that syscall reports them.
        Interest ready = reported.filter switch
        {
            Darwin.LibC.EVFILT_READ => Interest.Read,
            Darwin.LibC.EVFILT_WRITE => Interest.Write,
            _ => Interest.None,
        };
        decoded = new ReadinessEvent((ulong)reported.udata, ready);
        return ready != Interest.None;
    }

    private static Darwin.kevent Change(int fd, short filter, ulong token) => new()
    {
        ident = (nuint)fd,
        filter = filter,
        flags = Darwin.LibC.EV_ADD | Darwin.LibC.EV_ONESHOT | Darwin.LibC.EV_RECEIPT,
        udata = (nint)token,
    };
}
