using System.Runtime.InteropServices;
using AsyncSendFd.Native.Interop.Unix;
using Darwin = AsyncSendFd.Native.Interop.Darwin;
using Linux = AsyncSendFd.Native.Interop.Linux;

namespace AsyncSendFd.Internal;

// This file and Errno.cs are where the platform is chosen. They branch on OperatingSystem.IsLinux(),
// and the assembly supports only Linux and macOS, so every other branch runs on macOS; the platform
// analyzer cannot follow that negation.
#pragma warning disable CA1416

/// <summary>
/// The one place that knows which platform's <c>msghdr</c> and flags to use. Every call is
/// non-blocking, retried on <c>EINTR</c>, and reports failure as a negative errno.
/// </summary>
internal static unsafe class NativeSocket
{
    /// <summary>Room for the most descriptors one message can carry plus a credentials message (ABI.md: 2,048 is safe everywhere).</summary>
    public const int ControlBufferSize = 2048;

    /// <summary>Sends <paramref name="data"/> with <paramref name="control"/> attached to its first byte.</summary>
    /// <returns>Bytes sent, or minus errno.</returns>
    public static nint SendMessage(int socket, ReadOnlySpan<byte> data, ReadOnlySpan<byte> control, ReadOnlySpan<byte> address = default)
    {
        fixed (byte* dataPointer = data)
        fixed (byte* controlPointer = control)
        fixed (byte* addressPointer = address)
        {
            var iov = new iovec { iov_base = dataPointer, iov_len = (nuint)data.Length };
            while (true)
            {
                nint sent;
                if (OperatingSystem.IsLinux())
                {
                    var message = new Linux.msghdr
                    {
                        msg_name = address.IsEmpty ? null : addressPointer,
                        msg_namelen = (uint)address.Length,
                        msg_iov = &iov,
                        msg_iovlen = 1,
                        msg_control = control.IsEmpty ? null : controlPointer,
                        msg_controllen = (nuint)control.Length,
                    };
                    sent = Linux.LibC.sendmsg(socket, &message, Linux.LibC.MSG_DONTWAIT | Linux.LibC.MSG_NOSIGNAL);
                }
                else
                {
                    // SIGPIPE is kept away by SO_NOSIGPIPE, set once per socket (MSG_NOSIGNAL needs macOS 11).
                    var message = new Darwin.msghdr
                    {
                        msg_name = address.IsEmpty ? null : addressPointer,
                        msg_namelen = (uint)address.Length,
                        msg_iov = &iov,
                        msg_iovlen = 1,
                        msg_control = control.IsEmpty ? null : controlPointer,
                        msg_controllen = (uint)control.Length,
                    };
                    sent = Darwin.LibC.sendmsg(socket, &message, Darwin.LibC.MSG_DONTWAIT);
                }

                if (sent >= 0)
                {
                    return sent;
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno != Errno.EINTR)
                {
                    return -errno;
                }
            }
        }
    }

    /// <summary>
    /// Receives one message into <paramref name="data"/>, its control messages into <paramref name="control"/>.
    /// Received descriptors are close-on-exec before this returns.
    /// </summary>
    /// <returns>Bytes received (0 at end of stream), or minus errno.</returns>
    public static nint ReceiveMessage(int socket, Span<byte> data, Span<byte> control, out int controlLength, out ReceiveFlags flags)
    {
        fixed (byte* dataPointer = data)
        fixed (byte* controlPointer = control)
        {
            var iov = new iovec { iov_base = dataPointer, iov_len = (nuint)data.Length };
            while (true)
            {
                nint received;
                int nativeFlags;
                if (OperatingSystem.IsLinux())
                {
                    var message = new Linux.msghdr
                    {
                        msg_iov = &iov,
                        msg_iovlen = 1,
                        msg_control = controlPointer,
                        msg_controllen = (nuint)control.Length,
                    };

                    // MSG_CMSG_CLOEXEC marks the descriptors atomically, before any fork can see them.
                    received = Linux.LibC.recvmsg(socket, &message, Linux.LibC.MSG_DONTWAIT | Linux.LibC.MSG_CMSG_CLOEXEC);
                    controlLength = (int)message.msg_controllen;
                    nativeFlags = message.msg_flags;
                    flags = ((nativeFlags & Linux.LibC.MSG_CTRUNC) != 0 ? ReceiveFlags.ControlTruncated : 0)
                        | ((nativeFlags & Linux.LibC.MSG_TRUNC) != 0 ? ReceiveFlags.DataTruncated : 0);
                }
                else
                {
                    var message = new Darwin.msghdr
                    {
                        msg_iov = &iov,
                        msg_iovlen = 1,
                        msg_control = controlPointer,
                        msg_controllen = (uint)control.Length,
                    };
                    received = Darwin.LibC.recvmsg(socket, &message, Darwin.LibC.MSG_DONTWAIT);
                    controlLength = (int)message.msg_controllen;
                    nativeFlags = message.msg_flags;
                    flags = ((nativeFlags & Darwin.LibC.MSG_CTRUNC) != 0 ? ReceiveFlags.ControlTruncated : 0)
                        | ((nativeFlags & Darwin.LibC.MSG_TRUNC) != 0 ? ReceiveFlags.DataTruncated : 0);
                }

                if (received >= 0)
                {
                    controlLength = Math.Min(controlLength, control.Length);
                    return received;
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno != Errno.EINTR)
                {
                    controlLength = 0;
                    flags = ReceiveFlags.None;
                    return -errno;
                }
            }
        }
    }

    /// <summary>Sets <c>FD_CLOEXEC</c>; macOS has no atomic way to receive descriptors close-on-exec.</summary>
    public static void SetCloseOnExec(int fd)
    {
        int getFd = OperatingSystem.IsLinux() ? Linux.LibC.F_GETFD : Darwin.LibC.F_GETFD;
        int setFd = OperatingSystem.IsLinux() ? Linux.LibC.F_SETFD : Darwin.LibC.F_SETFD;
        int cloexec = OperatingSystem.IsLinux() ? Linux.LibC.FD_CLOEXEC : Darwin.LibC.FD_CLOEXEC;
        int current = LibC.fcntl(fd, getFd, 0);
        if (current >= 0 && (current & cloexec) == 0)
        {
            _ = LibC.fcntl(fd, setFd, current | cloexec);
        }
    }

    /// <summary>Turns SIGPIPE off for one socket on macOS; Linux passes MSG_NOSIGNAL on every send instead.</summary>
    public static void DisableSigPipe(int socket)
    {
        if (OperatingSystem.IsMacOS())
        {
            int on = 1;
            _ = LibC.setsockopt(socket, Darwin.LibC.SOL_SOCKET, Darwin.LibC.SO_NOSIGPIPE, &on, sizeof(int));
        }
    }

    /// <summary>socketpair(2) in the Unix family, both ends close-on-exec (atomically on Linux).</summary>
    /// <exception cref="System.Net.Sockets.SocketException">The kernel refused.</exception>
    public static (int Left, int Right) CreatePair(System.Net.Sockets.SocketType socketType)
    {
        int type = (OperatingSystem.IsLinux(), socketType) switch
        {
            (true, System.Net.Sockets.SocketType.Stream) => Linux.LibC.SOCK_STREAM | Linux.LibC.SOCK_CLOEXEC,
            (true, System.Net.Sockets.SocketType.Dgram) => Linux.LibC.SOCK_DGRAM | Linux.LibC.SOCK_CLOEXEC,
            (true, _) => Linux.LibC.SOCK_SEQPACKET | Linux.LibC.SOCK_CLOEXEC,
            (false, System.Net.Sockets.SocketType.Stream) => Darwin.LibC.SOCK_STREAM,
            (false, System.Net.Sockets.SocketType.Dgram) => Darwin.LibC.SOCK_DGRAM,
            (false, _) => Darwin.LibC.SOCK_SEQPACKET,
        };
        int family = OperatingSystem.IsLinux() ? Linux.LibC.AF_UNIX : Darwin.LibC.AF_UNIX;
        int* fds = stackalloc int[2];
        if (LibC.socketpair(family, type, 0, fds) != 0)
        {
            throw new System.Net.Sockets.SocketException(); // reads the errno the import just saved
        }

        if (OperatingSystem.IsMacOS())
        {
            SetCloseOnExec(fds[0]);
            SetCloseOnExec(fds[1]);
        }

        return (fds[0], fds[1]);
    }

    /// <summary>
    /// Whether a control message holds a descriptor the kernel installed by itself: SCM_PIDFD, which Linux 6.5+
    /// adds to every message once SO_PASSPIDFD is set on the socket.
    /// </summary>
    public static bool IsKernelInstalledDescriptor(int level, int type) =>
        OperatingSystem.IsLinux() && level == Linux.LibC.SOL_SOCKET && type == Linux.LibC.SCM_PIDFD;

    /// <summary>Whether <paramref name="fd"/> is a socket: getsockopt(SO_TYPE) fails with ENOTSOCK otherwise.</summary>
    public static bool IsSocket(int fd)
    {
        int type = 0;
        uint length = sizeof(int);
        return OperatingSystem.IsLinux()
            ? LibC.getsockopt(fd, Linux.LibC.SOL_SOCKET, Linux.LibC.SO_TYPE, &type, &length) == 0
            : LibC.getsockopt(fd, Darwin.LibC.SOL_SOCKET, Darwin.LibC.SO_TYPE, &type, &length) == 0;
    }

    /// <summary>Whether <paramref name="fd"/> is an open descriptor: fcntl(F_GETFD) fails with EBADF otherwise.</summary>
    public static bool IsOpen(int fd) =>
        LibC.fcntl(fd, OperatingSystem.IsLinux() ? Linux.LibC.F_GETFD : Darwin.LibC.F_GETFD, 0) >= 0;

    /// <summary>Closes a descriptor that nobody else owns, ignoring errors (there is no one left to report them to).</summary>
    public static void CloseQuietly(int fd) => _ = LibC.close(fd);

    /// <summary>Sets <c>O_NONBLOCK</c>, keeping the other status flags.</summary>
    /// <exception cref="IOException">fcntl failed; F_GETFL's -1 must never be OR-ed into flags and set.</exception>
    public static void SetNonBlocking(int fd)
    {
        int getFl = OperatingSystem.IsLinux() ? Linux.LibC.F_GETFL : Darwin.LibC.F_GETFL;
        int setFl = OperatingSystem.IsLinux() ? Linux.LibC.F_SETFL : Darwin.LibC.F_SETFL;
        int nonBlock = OperatingSystem.IsLinux() ? Linux.LibC.O_NONBLOCK : Darwin.LibC.O_NONBLOCK;
        int current = LibC.fcntl(fd, getFl, 0);
        if (current < 0)
        {
            throw Errors.Syscall("fcntl(F_GETFL)", Marshal.GetLastPInvokeError());
        }

        if ((current & nonBlock) == 0 && LibC.fcntl(fd, setFl, current | nonBlock) < 0)
        {
            throw Errors.Syscall("fcntl(F_SETFL)", Marshal.GetLastPInvokeError());
        }
    }
}
