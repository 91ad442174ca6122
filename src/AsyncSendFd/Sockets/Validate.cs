using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace AsyncSendFd.Sockets;

/// <summary>Argument checks that run before anything is read or written, with the exception types docs/contract.md lists.</summary>
internal static class Validate
{
    public static void Socket(Socket? socket, string paramName = "socket")
    {
        ArgumentNullException.ThrowIfNull(socket, paramName);
        Platform();

        ObjectDisposedException.ThrowIf(socket.SafeHandle.IsClosed, socket);
        if (socket.AddressFamily != AddressFamily.Unix)
        {
            throw new NotSupportedException(
                $"Descriptors travel only over Unix domain sockets; this socket is {socket.AddressFamily}.");
        }
    }

    public static void Platform()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            throw new PlatformNotSupportedException("Passing descriptors is supported on Linux and macOS.");
        }
    }

    public static void Handle(SafeHandle? handle, string paramName)
    {
        ArgumentNullException.ThrowIfNull(handle, paramName);
        ObjectDisposedException.ThrowIf(handle.IsClosed, handle);
        if (handle.IsInvalid)
        {
            throw new ArgumentException("The handle is invalid.", paramName);
        }
    }

    public static void Handles(ReadOnlySpan<SafeHandle> handles, string paramName)
    {
        if (handles.Length > SocketFdExtensions.MaxFdsPerMessage)
        {
            throw new ArgumentOutOfRangeException(
                paramName, handles.Length, $"One message carries at most {SocketFdExtensions.MaxFdsPerMessage} descriptors.");
        }

        foreach (SafeHandle handle in handles)
        {
            Handle(handle, paramName);
        }
    }

    /// <summary>On a stream socket recvmsg into no bytes returns 0 whether data waits or the peer is gone.</summary>
    public static void ReceiveBuffer(Socket socket, int dataLength)
    {
        if (dataLength == 0 && socket.SocketType == SocketType.Stream)
        {
            throw new ArgumentException(
                "On a stream socket an empty buffer could never tell data from end of stream; give at least one byte.", "data");
        }
    }

    /// <summary>A stream socket drops descriptors sent with no data byte to carry them.</summary>
    public static void DataCarriesDescriptors(Socket socket, int dataLength, int descriptorCount)
    {
        if (descriptorCount > 0 && dataLength == 0 && socket.SocketType == SocketType.Stream)
        {
            throw new ArgumentException(
                "On a stream socket descriptors ride on a data byte; send at least one byte with them.", "data");
        }
    }
}
