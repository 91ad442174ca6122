using System.Net.Sockets;
using System.Runtime.InteropServices;
using AsyncSendFd.Receiving;
using AsyncSendFd.Sending;
using AsyncSendFd.Sockets;
using AsyncSendFd.Syscalls;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd;

public static partial class SocketFdExtensions
{
    /// <summary>The data of async-send-fd's wire format: four zero bytes carrying the descriptor. Never written.</summary>
    private static readonly byte[] FourZeroBytes = new byte[4];

    /// <summary>
    /// Sends one descriptor on four zero bytes, the wire format of the Rust crate async-send-fd.
    /// </summary>
    /// <param name="socket">A connected Unix domain socket.</param>
    /// <param name="fd">The descriptor to send; the caller keeps it open and keeps ownership.</param>
    /// <param name="cancellationToken">Honoured until the first byte is written; after that the message is completed.</param>
    /// <exception cref="ArgumentNullException"><paramref name="socket"/> or <paramref name="fd"/> is null.</exception>
    /// <exception cref="ObjectDisposedException">The socket or the handle is disposed.</exception>
    /// <exception cref="ArgumentException">The handle is invalid.</exception>
    /// <include file="Docs/Exceptions.xml" path="exceptions/unix-socket/*"/>
    /// <exception cref="SocketException">The send failed, e.g. the peer closed the connection.</exception>
    /// <exception cref="OperationCanceledException">Canceled before any byte was written.</exception>
    public static ValueTask SendFdAsync(this Socket socket, SafeHandle fd, CancellationToken cancellationToken = default)
    {
        Validate.Socket(socket);
        Validate.Handle(fd, nameof(fd));
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        return SendLoop.SendAsync(socket, FourZeroBytes, OutgoingHandles.One(fd), default, cancellationToken);
    }

    /// <summary>Sends one descriptor on four zero bytes, blocking until it is written.</summary>
    /// <param name="socket">A connected Unix domain socket.</param>
    /// <param name="fd">The descriptor to send; the caller keeps it open and keeps ownership.</param>
    /// <exception cref="ArgumentNullException"><paramref name="socket"/> or <paramref name="fd"/> is null.</exception>
    /// <exception cref="ObjectDisposedException">The socket or the handle is disposed.</exception>
    /// <exception cref="ArgumentException">The handle is invalid.</exception>
    /// <include file="Docs/Exceptions.xml" path="exceptions/unix-socket/*"/>
    /// <exception cref="SocketException">The send failed, or <see cref="Socket.SendTimeout"/> passed before the first byte left.</exception>
    public static void SendFd(this Socket socket, SafeHandle fd)
    {
        Validate.Socket(socket);
        Validate.Handle(fd, nameof(fd));
        SendLoop.Send(socket, FourZeroBytes, OutgoingHandles.One(fd), default);
    }

    /// <summary>
    /// Receives one descriptor sent by <see cref="SendFdAsync"/>, async-send-fd or any peer that sends
    /// exactly one descriptor on one to four data bytes.
    /// </summary>
    /// <param name="socket">A connected Unix domain socket.</param>
    /// <param name="cancellationToken">Honoured while waiting; a canceled receive leaves the message in the socket.</param>
    /// <returns>An owning, close-on-exec handle: dispose it.</returns>
    /// <exception cref="EndOfStreamException">The peer closed the connection (on a seqpacket socket, also an empty message: the kernel reports both alike).</exception>
    /// <exception cref="IOException">The message carried no descriptor (an empty datagram included), more than one, or one on no data byte; any that came were closed.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="socket"/> is null.</exception>
    /// <exception cref="ObjectDisposedException">The socket is disposed.</exception>
    /// <include file="Docs/Exceptions.xml" path="exceptions/unix-socket/*"/>
    /// <exception cref="SocketException">The receive failed.</exception>
    /// <exception cref="OperationCanceledException">Canceled while waiting.</exception>
    public static ValueTask<SafeFileHandle> ReceiveFdAsync(this Socket socket, CancellationToken cancellationToken = default)
    {
        Validate.Socket(socket);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<SafeFileHandle>(cancellationToken);
        }

        return ReceiveLoop.ReceiveAsync<OneDescriptorShape, SafeFileHandle>(socket, default, default, cancellationToken);
    }

    /// <summary>Receives one descriptor, blocking until a message arrives.</summary>
    /// <param name="socket">A connected Unix domain socket.</param>
    /// <returns>An owning, close-on-exec handle: dispose it.</returns>
    /// <exception cref="EndOfStreamException">The peer closed the connection (on a seqpacket socket, also an empty message: the kernel reports both alike).</exception>
    /// <exception cref="IOException">The message carried no descriptor (an empty datagram included), more than one, or one on no data byte; any that came were closed.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="socket"/> is null.</exception>
    /// <exception cref="ObjectDisposedException">The socket is disposed.</exception>
    /// <include file="Docs/Exceptions.xml" path="exceptions/unix-socket/*"/>
    /// <exception cref="SocketException">The receive failed, or <see cref="Socket.ReceiveTimeout"/> passed.</exception>
    public static SafeFileHandle ReceiveFd(this Socket socket)
    {
        Validate.Socket(socket);
        return ReceiveLoop.Receive<OneDescriptorShape, SafeFileHandle>(socket, default, default);
    }
}
