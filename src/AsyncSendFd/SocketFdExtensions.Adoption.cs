using System.Net.Sockets;
using AsyncSendFd.Receiving;
using AsyncSendFd.Sockets;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd;

public static partial class SocketFdExtensions
{
    /// <summary>
    /// Adopts a descriptor that is a socket, such as a listener passed by systemd or a socket among the descriptors of
    /// <see cref="ReceiveFds"/>, as a <see cref="Socket"/>.
    /// </summary>
    /// <param name="handle">
    /// The descriptor. It is consumed: on success the socket owns it and <paramref name="handle"/> is marked closed without closing it; on failure it is closed.
    /// </param>
    /// <returns>The socket, owned by the caller.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="handle"/> is null.</exception>
    /// <exception cref="ObjectDisposedException"><paramref name="handle"/> is disposed.</exception>
    /// <exception cref="ArgumentException"><paramref name="handle"/> is invalid, or not a socket (it was closed).</exception>
    /// <include file="Docs/Exceptions.xml" path="exceptions/platform/*"/>
    public static Socket ToSocket(this SafeFileHandle handle)
    {
        Validate.Platform();
        Validate.Handle(handle, nameof(handle));
        return SocketAdoption.TryAdopt(handle)
            ?? throw new ArgumentException("The descriptor is not a socket; it was closed.", nameof(handle));
    }

    /// <summary>
    /// Adopts a descriptor as a <see cref="Socket"/> after checking that it is a socket of the expected address family
    /// (<c>SO_DOMAIN</c>) and type (<c>SO_TYPE</c>).
    /// </summary>
    /// <param name="handle">
    /// The descriptor. It is consumed: on success the socket owns it and <paramref name="handle"/> is marked closed without closing it; on failure it is closed.
    /// </param>
    /// <param name="expectedFamily">The address family it must have, e.g. <see cref="AddressFamily.Unix"/>.</param>
    /// <param name="expectedType">The socket type it must have, e.g. <see cref="SocketType.Stream"/>.</param>
    /// <returns>The socket, owned by the caller.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="handle"/> is null.</exception>
    /// <exception cref="ObjectDisposedException"><paramref name="handle"/> is disposed.</exception>
    /// <exception cref="ArgumentException">
    /// <paramref name="handle"/> is invalid, not a socket, or a socket of another family or type (it was closed).
    /// </exception>
    /// <include file="Docs/Exceptions.xml" path="exceptions/platform/*"/>
    public static Socket ToSocket(this SafeFileHandle handle, AddressFamily expectedFamily, SocketType expectedType)
    {
        Socket socket = handle.ToSocket();
        (AddressFamily family, SocketType type) = (socket.AddressFamily, socket.SocketType);
        if (family != expectedFamily || type != expectedType)
        {
            socket.Dispose();
            throw new ArgumentException(
                $"The descriptor is a {family} {type} socket, not {expectedFamily} {expectedType}; it was closed.", nameof(handle));
        }

        return socket;
    }
}
