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
