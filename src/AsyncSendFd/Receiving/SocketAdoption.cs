using System.Net.Sockets;
using AsyncSendFd.Syscalls;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Receiving;

/// <summary>Moves a descriptor from a <see cref="SafeFileHandle"/> into a <see cref="Socket"/>, closing it on every failure.</summary>
internal static class SocketAdoption
{
    /// <returns>The socket, which now owns the descriptor (the handle is marked closed); <see langword="null"/> when it is no socket, then closed.</returns>
    public static Socket? TryAdopt(SafeFileHandle handle)
    {
        // .NET adopts any descriptor as a socket of family Unknown, so ask the kernel first.
        int fd = (int)handle.DangerousGetHandle();
        if (!SocketCalls.IsSocket(fd))
        {
            handle.Dispose();
            return null;
        }

        SafeSocketHandle socketHandle;
        try
        {
            socketHandle = new SafeSocketHandle(fd, ownsHandle: true);
        }
        catch
        {
            handle.Dispose();
            throw;
        }

        handle.SetHandleAsInvalid(); // from here the socket handle alone owns the descriptor
        try
        {
            return new Socket(socketHandle);
        }
        catch
        {
            socketHandle.Dispose();
            throw;
        }
    }
}
