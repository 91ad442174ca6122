using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using AsyncSendFd.Sending;
using AsyncSendFd.Sockets;
using AsyncSendFd.Syscalls;

namespace AsyncSendFd;

public static partial class SocketFdExtensions
{
    /// <summary>
    /// Sends one datagram with up to <see cref="MaxFdsPerMessage"/> descriptors to <paramref name="remoteEndPoint"/>,
    /// from an unconnected datagram socket (the way a service notifies systemd, for instance).
    /// </summary>
    /// <param name="socket">A Unix datagram socket.</param>
    /// <param name="data">The datagram; may be empty.</param>
    /// <param name="fds">The descriptors; the caller keeps ownership.</param>
    /// <param name="remoteEndPoint">The destination: a path, or on Linux an abstract name starting with '\0'.</param>
    /// <param name="cancellationToken">Honoured until the datagram is sent.</param>
    /// <exception cref="ArgumentNullException">An argument or a handle is null.</exception>
    /// <exception cref="ObjectDisposedException">The socket or a handle is disposed.</exception>
    /// <exception cref="ArgumentException">A handle is invalid.</exception>
    /// <exception cref="ArgumentOutOfRangeException">More than <see cref="MaxFdsPerMessage"/> descriptors.</exception>
    /// <include file="Docs/Exceptions.xml" path="exceptions/unix-socket/*"/>
    /// <exception cref="SocketException">The send failed, e.g. nobody is bound at the destination.</exception>
    /// <exception cref="OperationCanceledException">Canceled before the datagram was sent.</exception>
    public static ValueTask SendFdsToAsync(this Socket socket, ReadOnlyMemory<byte> data, ReadOnlyMemory<SafeHandle> fds, UnixDomainSocketEndPoint remoteEndPoint, CancellationToken cancellationToken = default)
    {
        Validate.Socket(socket);
        Validate.Handles(fds.Span, nameof(fds));
        ArgumentNullException.ThrowIfNull(remoteEndPoint);
        Validate.DataCarriesDescriptors(socket, data.Length, fds.Length);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        return SendLoop.SendAsync(socket, data, OutgoingHandles.Of(fds.Span, nameof(fds)), NativeAddress(remoteEndPoint), cancellationToken);
    }

    /// <summary>
    /// Sends one datagram with up to <see cref="MaxFdsPerMessage"/> descriptors to <paramref name="remoteEndPoint"/>,
    /// blocking until it is sent.
    /// </summary>
    /// <param name="socket">A Unix datagram socket.</param>
    /// <param name="data">The datagram; may be empty.</param>
    /// <param name="fds">The descriptors; the caller keeps ownership.</param>
    /// <param name="remoteEndPoint">The destination: a path, or on Linux an abstract name starting with '\0'.</param>
    /// <exception cref="ArgumentNullException">An argument or a handle is null.</exception>
    /// <exception cref="ObjectDisposedException">The socket or a handle is disposed.</exception>
    /// <exception cref="ArgumentException">A handle is invalid.</exception>
    /// <exception cref="ArgumentOutOfRangeException">More than <see cref="MaxFdsPerMessage"/> descriptors.</exception>
    /// <include file="Docs/Exceptions.xml" path="exceptions/unix-socket/*"/>
    /// <exception cref="SocketException">The send failed, e.g. nobody is bound at the destination, or <see cref="Socket.SendTimeout"/> passed.</exception>
    public static void SendFdsTo(this Socket socket, ReadOnlySpan<byte> data, ReadOnlySpan<SafeHandle> fds, UnixDomainSocketEndPoint remoteEndPoint)
    {
        Validate.Socket(socket);
        Validate.Handles(fds, nameof(fds));
        ArgumentNullException.ThrowIfNull(remoteEndPoint);
        Validate.DataCarriesDescriptors(socket, data.Length, fds.Length);
        SendLoop.Send(socket, data, OutgoingHandles.Of(fds, nameof(fds)), NativeAddress(remoteEndPoint).Span);
    }

    /// <summary>The <c>sockaddr_un</c> bytes, which .NET's <see cref="SocketAddress"/> holds in the platform's own layout.</summary>
    private static ReadOnlyMemory<byte> NativeAddress(UnixDomainSocketEndPoint endPoint)
    {
        SocketAddress address = endPoint.Serialize();
        return address.Buffer[..address.Size];
    }
}
