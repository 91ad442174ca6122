using System.Net.Sockets;
using System.Runtime.InteropServices;
using AsyncSendFd.Sockets;
using AsyncSendFd.Syscalls;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd;

public static partial class SocketFdExtensions
{
    /// <summary>
    /// Who is on the other end: the credentials the kernel recorded when the connection was made
    /// (<c>SO_PEERCRED</c> on Linux, <c>LOCAL_PEERCRED</c> and <c>LOCAL_PEERPID</c> on macOS).
    /// </summary>
    /// <remarks>
    /// A broker deciding whether to hand out a descriptor should check <see cref="UnixPeerCredentials.UserId"/>.
    /// A process id can be reused once that process exits; where the kernel offers it, prefer
    /// <see cref="GetPeerPidFd"/>, which cannot.
    /// </remarks>
    /// <param name="socket">A connected Unix domain socket.</param>
    /// <exception cref="ArgumentNullException"><paramref name="socket"/> is null.</exception>
    /// <exception cref="ObjectDisposedException">The socket is disposed.</exception>
    /// <include file="Docs/Exceptions.xml" path="exceptions/unix-socket/*"/>
    /// <exception cref="SocketException">The socket has no peer.</exception>
    public static UnixPeerCredentials GetPeerCredentials(this Socket socket)
    {
        Validate.Socket(socket);
        return PeerCredentialCalls.Get(socket);
    }

    /// <summary>
    /// A pidfd for the peer process (Linux 6.5+, <c>SO_PEERPIDFD</c>): unlike a process id, it can never
    /// come to mean another process. Poll it for readability to learn when the peer exits.
    /// </summary>
    /// <param name="socket">A connected Unix domain socket.</param>
    /// <returns>An owning, close-on-exec handle: dispose it.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="socket"/> is null.</exception>
    /// <exception cref="ObjectDisposedException">The socket is disposed.</exception>
    /// <exception cref="NotSupportedException">The socket is not <see cref="AddressFamily.Unix"/>.</exception>
    /// <exception cref="PlatformNotSupportedException">Not Linux, or a kernel older than 6.5.</exception>
    /// <exception cref="SocketException">The socket has no peer, or the peer has exited and been reaped.</exception>
    public static SafeFileHandle GetPeerPidFd(this Socket socket)
    {
        Validate.Socket(socket);
        return PeerCredentialCalls.GetPidFd(socket);
    }
}
