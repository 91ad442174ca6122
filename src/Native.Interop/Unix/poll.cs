using System.Runtime.InteropServices;

namespace AsyncSendFd.Native.Interop.Unix;

/// <summary><c>struct pollfd</c> from &lt;poll.h&gt;: one descriptor watched by <see cref="LibC.poll"/>.</summary>
public struct pollfd
{
    /// <summary>The descriptor to watch; a negative value is ignored by the kernel.</summary>
    public int fd;

    /// <summary>Requested events (<c>POLLIN</c>, <c>POLLOUT</c>).</summary>
    public short events;

    /// <summary>Returned events, including <c>POLLERR</c>, <c>POLLHUP</c> and <c>POLLNVAL</c>.</summary>
    public short revents;
}

// <poll.h>: the struct and the call are the same on Linux and macOS; the POLL* values are in each platform's poll.cs.
public static unsafe partial class LibC
{
    /// <summary>Waits for events on a set of descriptors; <paramref name="timeout"/> in milliseconds, -1 for none.</summary>
    [LibraryImport(Name, SetLastError = true)]
    public static partial int poll(pollfd* fds, nuint nfds, int timeout);
}
