using System.Net.Sockets;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Systemd;

/// <summary>One descriptor passed by the service manager.</summary>
/// <param name="Name">Its name: <c>FileDescriptorName=</c> of a socket unit, the <c>FDNAME=</c> it was stored under, or "unknown".</param>
/// <param name="Handle">The descriptor, owned by the caller.</param>
public readonly record struct SystemdFileDescriptor(string Name, SafeFileHandle Handle)
{
    /// <summary>Adopts the descriptor, a socket-activated or stored listener, as a <see cref="Socket"/>.</summary>
    /// <returns>The socket, owned by the caller; <see cref="Handle"/> is marked closed, without closing the descriptor the socket now owns.</returns>
    /// <exception cref="ObjectDisposedException"><see cref="Handle"/> is disposed.</exception>
    /// <exception cref="ArgumentException">The descriptor is not a socket; it was closed.</exception>
    /// <remarks>To check the family and type as well, use <see cref="SocketFdExtensions.ToSocket(SafeFileHandle, AddressFamily, SocketType)"/>.</remarks>
    public Socket ToSocket() => Handle.ToSocket();
}
