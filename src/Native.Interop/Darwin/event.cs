using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace AsyncSendFd.Native.Interop.Darwin;

/// <summary>
/// <c>struct kevent</c> from &lt;sys/event.h&gt; (64-bit macOS, 32 bytes): one change handed to the kernel or one
/// event handed back by <see cref="LibC.kevent"/>.
/// </summary>
[SupportedOSPlatform("macos")]
public struct kevent
{
    /// <summary>The identifier: a descriptor for <see cref="LibC.EVFILT_READ"/> and <see cref="LibC.EVFILT_WRITE"/>.</summary>
    public nuint ident;

    /// <summary>The filter (<c>EVFILT_*</c>).</summary>
    public short filter;

    /// <summary>Actions on input (<c>EV_ADD</c>, <c>EV_ONESHOT</c>...), state on output (<c>EV_EOF</c>, <c>EV_ERROR</c>).</summary>
    public ushort flags;

    /// <summary>Filter-specific flags (<c>NOTE_*</c>).</summary>
    public uint fflags;

    /// <summary>Filter-specific data; the errno when <c>flags</c> has <c>EV_ERROR</c>.</summary>
    public nint data;

    /// <summary>The caller's value, handed back with each event.</summary>
    public nint udata;
}

// <sys/event.h>: kqueue, macOS's readiness notification.
public static unsafe partial class LibC
{
#pragma warning disable CS1591 // The native names are the documentation: see kqueue(2).
    public const short EVFILT_READ = -1;
    public const short EVFILT_WRITE = -2;
    public const short EVFILT_USER = -10;

    public const ushort EV_ADD = 0x0001;
    public const ushort EV_DELETE = 0x0002;
    public const ushort EV_ENABLE = 0x0004;
    public const ushort EV_DISABLE = 0x0008;
    public const ushort EV_ONESHOT = 0x0010;
    public const ushort EV_CLEAR = 0x0020;
    public const ushort EV_RECEIPT = 0x0040;
    public const ushort EV_DISPATCH = 0x0080;
    public const ushort EV_ERROR = 0x4000;
    public const ushort EV_EOF = 0x8000;

    public const uint NOTE_TRIGGER = 0x01000000;
#pragma warning restore CS1591

    /// <summary>Creates a kernel event queue. Its descriptor is not inherited by children of fork.</summary>
    [LibraryImport(Unix.LibC.Name, SetLastError = true)]
    public static partial int kqueue();

    /// <summary>
    /// Applies <paramref name="nchanges"/> changes, then waits up to <paramref name="timeout"/> (null: for ever)
    /// for at most <paramref name="nevents"/> events.
    /// </summary>
    /// <returns>The number of events, 0 on timeout, or -1 and errno.</returns>
    [LibraryImport(Unix.LibC.Name, SetLastError = true)]
    public static partial int kevent(int kq, Darwin.kevent* changelist, int nchanges, Darwin.kevent* eventlist, int nevents, timespec* timeout);
}
