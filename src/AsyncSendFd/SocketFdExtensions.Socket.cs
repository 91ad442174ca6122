using System.Net.Sockets;
using AsyncSendFd.Receiving;
using AsyncSendFd.Sockets;

namespace AsyncSendFd;

public static partial class SocketFdExtensions
{
    /// <summary>
    /// Sends a socket's descriptor (async-send-fd's <c>send_stream</c>), e.g. a listening socket handed to a successor.
    /// </summary>
    /// <param name="socket">A connected Unix domain socket.</param>
    /// <param name="socketToSend">The socket to send; it stays open here, so close it once the peer has it.</param>
    /// <param name="cancellationToken">Honoured until the first byte is written.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ObjectDisposedException">A socket is disposed.</exception>
    /// <exception cref="NotSupportedException"><paramref name="socket"/> is not <see cref="AddressFamily.Unix"/>.</exception>
    /// <include file="Docs/Exceptions.xml" path="exceptions/platform/*"/>
    /// <exception cref="SocketException">The send failed.</exception>
    /// <exception cref="OperationCanceledException">Canceled before any byte was written.</exception>
    public static ValueTask SendSocketAsync(this Socket socket, Socket socketToSend, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(socketToSend);
        return socket.SendFdAsync(socketToSend.SafeHandle, cancellationToken);
    }

    /// <summary>Sends a socket's descriptor, blocking until it is written.</summary>
    /// <param name="socket">A connected Unix domain socket.</param>
    /// <param name="socketToSend">The socket to send; it stays open here.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ObjectDisposedException">A socket is disposed.</exception>
    /// <exception cref="NotSupportedException"><paramref name="socket"/> is not <see cref="AddressFamily.Unix"/>.</exception>
    /// <include file="Docs/Exceptions.xml" path="exceptions/platform/*"/>
    /// <exception cref="SocketException">The send failed.</exception>
    public static void SendSocket(this Socket socket, Socket socketToSend)
    {
        ArgumentNullException.ThrowIfNull(socketToSend);
        socket.SendFd(socketToSend.SafeHandle);
    }

    /// <summary>Receives a socket's descriptor (async-send-fd's <c>recv_stream</c>) and adopts it as a <see cref="Socket"/>.</summary>
    /// <param name="socket">A connected Unix domain socket.</param>
    /// <param name="cancellationToken">Honoured while waiting; a canceled receive leaves the message in the socket.</param>
    /// <returns>The received socket, owned by the caller.</returns>
    /// <exception cref="EndOfStreamException">The peer closed the connection (on a seqpacket socket, also an empty message: the kernel reports both alike).</exception>
    /// <exception cref="IOException">The message carried no descriptor (an empty datagram included), more than one, one on no data byte, or one that is not a socket; all were closed.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="socket"/> is null.</exception>
    /// <exception cref="ObjectDisposedException">The socket is disposed.</exception>
    /// <include file="Docs/Exceptions.xml" path="exceptions/unix-socket/*"/>
    /// <exception cref="SocketException">The receive failed.</exception>
    /// <exception cref="OperationCanceledException">Canceled while waiting.</exception>
    public static ValueTask<Socket> ReceiveSocketAsync(this Socket socket, CancellationToken cancellationToken = default)
    {
        Validate.Socket(socket);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<Socket>(cancellationToken);
        }

        return ReceiveLoop.ReceiveAsync<SocketShape, Socket>(socket, default, default, cancellationToken);
    }

    /// <summary>Receives a socket's descriptor, blocking until it arrives, and adopts it as a <see cref="Socket"/>.</summary>
    /// <param name="socket">A connected Unix domain socket.</param>
    /// <returns>The received socket, owned by the caller.</returns>
    /// <exception cref="EndOfStreamException">The peer closed the connection (on a seqpacket socket, also an empty message: the kernel reports both alike).</exception>
    /// <exception cref="IOException">The message carried no descriptor (an empty datagram included), more than one, one on no data byte, or one that is not a socket; all were closed.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="socket"/> is null.</exception>
    /// <exception cref="ObjectDisposedException">The socket is disposed.</exception>
    /// <include file="Docs/Exceptions.xml" path="exceptions/unix-socket/*"/>
    /// <exception cref="SocketException">The receive failed.</exception>
    public static Socket ReceiveSocket(this Socket socket)
    {
        Validate.Socket(socket);
        return ReceiveLoop.Receive<SocketShape, Socket>(socket, default, default);
    }
}
