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
    /// <summary>Sends <paramref name="data"/> with up to <see cref="MaxFdsPerMessage"/> descriptors riding on its first byte.</summary>
    /// <param name="socket">A connected Unix domain socket (stream, datagram or seqpacket).</param>
    /// <param name="data">The bytes, all of which are sent; on a stream socket, at least one when descriptors are sent.</param>
    /// <param name="fds">The descriptors; the caller keeps ownership.</param>
    /// <param name="cancellationToken">Honoured until the first byte is written; after that the message is completed.</param>
    /// <exception cref="ArgumentNullException"><paramref name="socket"/> or a handle is null.</exception>
    /// <exception cref="ObjectDisposedException">The socket or a handle is disposed.</exception>
    /// <exception cref="ArgumentException">A handle is invalid, or descriptors with empty data on a stream socket.</exception>
    /// <exception cref="ArgumentOutOfRangeException">More than <see cref="MaxFdsPerMessage"/> descriptors.</exception>
    /// <include file="Docs/Exceptions.xml" path="exceptions/unix-socket/*"/>
    /// <exception cref="SocketException">The send failed, e.g. the peer closed the connection.</exception>
    /// <exception cref="OperationCanceledException">Canceled before any byte was written.</exception>
    public static ValueTask SendFdsAsync(this Socket socket, ReadOnlyMemory<byte> data, ReadOnlyMemory<SafeHandle> fds, CancellationToken cancellationToken = default)
    {
        Validate.Socket(socket);
        Validate.Handles(fds.Span, nameof(fds));
        Validate.DataCarriesDescriptors(socket, data.Length, fds.Length);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        return SendLoop.SendAsync(socket, data, OutgoingHandles.Of(fds.Span, nameof(fds)), default, cancellationToken);
    }

    /// <summary>Sends <paramref name="data"/> with up to <see cref="MaxFdsPerMessage"/> descriptors, blocking until all is written.</summary>
    /// <param name="socket">A connected Unix domain socket (stream, datagram or seqpacket).</param>
    /// <param name="data">The bytes, all of which are sent; on a stream socket, at least one when descriptors are sent.</param>
    /// <param name="fds">The descriptors; the caller keeps ownership.</param>
    /// <exception cref="ArgumentNullException"><paramref name="socket"/> or a handle is null.</exception>
    /// <exception cref="ObjectDisposedException">The socket or a handle is disposed.</exception>
    /// <exception cref="ArgumentException">A handle is invalid, or descriptors with empty data on a stream socket.</exception>
    /// <exception cref="ArgumentOutOfRangeException">More than <see cref="MaxFdsPerMessage"/> descriptors.</exception>
    /// <include file="Docs/Exceptions.xml" path="exceptions/unix-socket/*"/>
    /// <exception cref="SocketException">The send failed, or <see cref="Socket.SendTimeout"/> passed before the first byte left.</exception>
    public static void SendFds(this Socket socket, ReadOnlySpan<byte> data, ReadOnlySpan<SafeHandle> fds)
    {
        Validate.Socket(socket);
        Validate.Handles(fds, nameof(fds));
        Validate.DataCarriesDescriptors(socket, data.Length, fds.Length);
        SendLoop.Send(socket, data, OutgoingHandles.Of(fds, nameof(fds)), default);
    }

    /// <summary>Receives one message: its bytes into <paramref name="data"/>, its descriptors into <paramref name="fds"/>.</summary>
    /// <param name="socket">A connected Unix domain socket.</param>
    /// <param name="data">Where the bytes go; at least one byte on a stream socket. On a stream socket a receive stops at the end of a descriptor-carrying send.</param>
    /// <param name="fds">Slots for the descriptors; the first <see cref="FdReceiveResult.FdCount"/> are filled with owning, close-on-exec handles.</param>
    /// <param name="cancellationToken">Honoured while waiting; a canceled receive leaves the message in the socket.</param>
    /// <returns>
    /// The byte and descriptor counts; <c>(0, 0)</c> at end of stream, and for an empty datagram (datagram sockets have no
    /// end of stream). On a seqpacket socket an empty message and end of stream both read as <c>(0, 0)</c>: the kernel reports them alike.
    /// </returns>
    /// <exception cref="IOException">
    /// The message carried more descriptors than <paramref name="fds"/> has slots, the kernel truncated its control data,
    /// or a datagram did not fit <paramref name="data"/>. Every descriptor of that message was closed.
    /// </exception>
    /// <exception cref="ArgumentNullException"><paramref name="socket"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="data"/> is empty on a stream socket, where it could not tell data from end of stream.</exception>
    /// <exception cref="ObjectDisposedException">The socket is disposed.</exception>
    /// <include file="Docs/Exceptions.xml" path="exceptions/unix-socket/*"/>
    /// <exception cref="SocketException">The receive failed.</exception>
    /// <exception cref="OperationCanceledException">Canceled while waiting.</exception>
    public static ValueTask<FdReceiveResult> ReceiveFdsAsync(this Socket socket, Memory<byte> data, Memory<SafeFileHandle?> fds, CancellationToken cancellationToken = default)
    {
        Validate.Socket(socket);
        Validate.ReceiveBuffer(socket, data.Length);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<FdReceiveResult>(cancellationToken);
        }

        return ReceiveLoop.ReceiveAsync<FdsShape, FdReceiveResult>(socket, data, fds, cancellationToken);
    }

    /// <summary>Receives one message, blocking until it arrives: its bytes into <paramref name="data"/>, its descriptors into <paramref name="fds"/>.</summary>
    /// <param name="socket">A connected Unix domain socket.</param>
    /// <param name="data">Where the bytes go; at least one byte on a stream socket.</param>
    /// <param name="fds">Slots for the descriptors; the first <see cref="FdReceiveResult.FdCount"/> are filled with owning, close-on-exec handles.</param>
    /// <returns>
    /// The byte and descriptor counts; <c>(0, 0)</c> at end of stream, and for an empty datagram (datagram sockets have no
    /// end of stream). On a seqpacket socket an empty message and end of stream both read as <c>(0, 0)</c>: the kernel reports them alike.
    /// </returns>
    /// <exception cref="IOException">
    /// The message carried more descriptors than <paramref name="fds"/> has slots, the kernel truncated its control data,
    /// or a datagram did not fit <paramref name="data"/>. Every descriptor of that message was closed.
    /// </exception>
    /// <exception cref="ArgumentNullException"><paramref name="socket"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="data"/> is empty on a stream socket, where it could not tell data from end of stream.</exception>
    /// <exception cref="ObjectDisposedException">The socket is disposed.</exception>
    /// <include file="Docs/Exceptions.xml" path="exceptions/unix-socket/*"/>
    /// <exception cref="SocketException">The receive failed, or <see cref="Socket.ReceiveTimeout"/> passed.</exception>
    public static FdReceiveResult ReceiveFds(this Socket socket, Span<byte> data, Span<SafeFileHandle?> fds)
    {
        Validate.Socket(socket);
        Validate.ReceiveBuffer(socket, data.Length);
        return ReceiveLoop.Receive<FdsShape, FdReceiveResult>(socket, data, fds);
    }
}
