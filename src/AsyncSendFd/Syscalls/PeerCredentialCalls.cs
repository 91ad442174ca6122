using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Darwin = AsyncSendFd.Native.Interop.Darwin;
using Linux = AsyncSendFd.Native.Interop.Linux;

namespace AsyncSendFd.Syscalls;

/// <summary>Reads the peer's credentials with <see cref="Socket.GetRawSocketOption"/>, per platform.</summary>
internal static class PeerCredentialCalls
{
    public static UnixPeerCredentials Get(Socket socket)
    {
        if (OperatingSystem.IsLinux())
        {
            Linux.ucred credentials = default;
            socket.GetRawSocketOption(Linux.LibC.SOL_SOCKET, Linux.LibC.SO_PEERCRED, AsBytes(ref credentials));

            // An unconnected socket reports pid 0 and uid/gid -1 rather than an error.
            if (credentials.pid == 0 && credentials.uid == uint.MaxValue)
            {
                throw new SocketException((int)SocketError.NotConnected);
            }

            return new UnixPeerCredentials(credentials.pid, credentials.uid, credentials.gid);
        }

        if (OperatingSystem.IsMacOS())
        {
            Darwin.xucred credentials = default;
            socket.GetRawSocketOption(Darwin.LibC.SOL_LOCAL, Darwin.LibC.LOCAL_PEERCRED, AsBytes(ref credentials));
            int pid = 0;
            socket.GetRawSocketOption(Darwin.LibC.SOL_LOCAL, Darwin.LibC.LOCAL_PEERPID, AsBytes(ref pid));
            return new UnixPeerCredentials(pid, credentials.cr_uid, GetFirstGroup(ref credentials));
        }

        throw new PlatformNotSupportedException();
    }

    public static SafeFileHandle GetPidFd(Socket socket)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("A pidfd of the peer needs Linux 6.5 or later (SO_PEERPIDFD).");
        }

        int pidfd = -1;
        try
        {
            socket.GetRawSocketOption(Linux.LibC.SOL_SOCKET, Linux.LibC.SO_PEERPIDFD, AsBytes(ref pidfd));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ProtocolOption)
        {
            throw new PlatformNotSupportedException("This kernel has no SO_PEERPIDFD (Linux 6.5 or later).", e);
        }

        return new SafeFileHandle(pidfd, ownsHandle: true);
    }

    [System.Runtime.Versioning.SupportedOSPlatform("macos")]
    private static unsafe uint GetFirstGroup(ref Darwin.xucred credentials) =>
        credentials.cr_ngroups > 0 ? credentials.cr_groups[0] : uint.MaxValue;

    private static Span<byte> AsBytes<T>(ref T value)
        where T : unmanaged => MemoryMarshal.AsBytes(new Span<T>(ref value));
}
