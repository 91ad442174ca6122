using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using AsyncSendFd.Native.Interop;
using AsyncSendFd.Native.Interop.Unix;
using Darwin = AsyncSendFd.Native.Interop.Darwin;
using Linux = AsyncSendFd.Native.Interop.Linux;

namespace AsyncSendFd.Syscalls;

/// <summary>
/// sendmsg and recvmsg with the platform's <c>msghdr</c> and flags: non-blocking, retried on <c>EINTR</c>, failures
/// returned as <see cref="Errno"/> (the loops turn them into exceptions, once).
/// </summary>
internal static unsafe class MessageCalls
{
    /// <summary>
    /// Room for the most descriptors a peer can send in one message (253 on Linux, 254 on macOS) plus a credentials
    /// message, with each platform's headers and alignment: 2,048 bytes holds them on Linux and macOS alike.
    /// </summary>
    public const int ControlBufferSize = 2048;

    /// <summary>Sends <paramref name="data"/> with <paramref name="descriptors"/> (SCM_RIGHTS) riding on its first byte.</summary>
    /// <param name="socket">The socket's descriptor.</param>
    /// <param name="data">The bytes.</param>
    /// <param name="descriptors">Descriptor numbers the caller keeps referenced; empty for none.</param>
    /// <param name="address">A destination's <c>sockaddr_un</c>, or empty.</param>
    /// <param name="sent">Bytes sent.</param>
    [SkipLocalsInit]
    public static Errno Send(int socket, ReadOnlySpan<byte> data, ReadOnlySpan<int> descriptors, ReadOnlySpan<byte> address, out int sent)
    {
        if (descriptors.IsEmpty)
        {
            return SendMessage(socket, data, default, address, out sent);
        }

        ControlMessageLayout layout = ControlMessageLayout.Current;
        var writer = new ControlMessageWriter(stackalloc byte[layout.SpaceForDescriptors(descriptors.Length)], layout);
        writer.WriteRights(descriptors);
        return SendMessage(socket, data, writer.Written, address, out sent);
    }

    /// <summary>Sends <paramref name="data"/> with <paramref name="control"/> attached to its first byte.</summary>
    private static Errno SendMessage(int socket, ReadOnlySpan<byte> data, ReadOnlySpan<byte> control, ReadOnlySpan<byte> address, out int sent)
    {
        fixed (byte* dataPointer = data)
        fixed (byte* controlPointer = control)
        fixed (byte* addressPointer = address)
        {
            var iov = new iovec { iov_base = dataPointer, iov_len = (nuint)data.Length };
            while (true)
            {
                nint result;
                if (Os.IsLinux)
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
                    result = Linux.LibC.sendmsg(socket, &message, Linux.LibC.MSG_DONTWAIT | Linux.LibC.MSG_NOSIGNAL);
                }
                else if (Os.IsMacOS)
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
                    result = Darwin.LibC.sendmsg(socket, &message, Darwin.LibC.MSG_DONTWAIT);
                }
                else
                {
                    throw Os.NotSupported();
                }

                sent = (int)Math.Max(result, 0);
                Errno errno = result >= 0 ? Errno.Success : Errno.Last;
                if (errno != Errno.EINTR)
                {
                    return errno;
                }
            }
        }
    }

    /// <summary>
    /// Receives one message into <paramref name="data"/>, its control messages into <paramref name="control"/>.
    /// On Linux the descriptors arrive close-on-exec (<c>MSG_CMSG_CLOEXEC</c>); macOS has no such flag, so the caller
    /// sets it on each, right after this returns. <paramref name="received"/> is 0 at end of stream.
    /// </summary>
    public static Errno Receive(int socket, Span<byte> data, Span<byte> control, out int received, out int controlLength, out ReceiveFlags flags)
    {
        fixed (byte* dataPointer = data)
        fixed (byte* controlPointer = control)
        {
            var iov = new iovec { iov_base = dataPointer, iov_len = (nuint)data.Length };
            while (true)
            {
                nint result;
                int nativeFlags;
                if (Os.IsLinux)
                {
                    var message = new Linux.msghdr
                    {
                        msg_iov = &iov,
                        msg_iovlen = 1,
                        msg_control = controlPointer,
                        msg_controllen = (nuint)control.Length,
                    };

                    // MSG_CMSG_CLOEXEC marks the descriptors atomically, before any fork can see them.
                    result = Linux.LibC.recvmsg(socket, &message, Linux.LibC.MSG_DONTWAIT | Linux.LibC.MSG_CMSG_CLOEXEC);
                    controlLength = (int)message.msg_controllen;
                    nativeFlags = message.msg_flags;
                    flags = ((nativeFlags & Linux.LibC.MSG_CTRUNC) != 0 ? ReceiveFlags.ControlTruncated : 0)
                        | ((nativeFlags & Linux.LibC.MSG_TRUNC) != 0 ? ReceiveFlags.DataTruncated : 0);
                }
                else if (Os.IsMacOS)
                {
                    var message = new Darwin.msghdr
                    {
                        msg_iov = &iov,
                        msg_iovlen = 1,
                        msg_control = controlPointer,
                        msg_controllen = (uint)control.Length,
                    };
                    result = Darwin.LibC.recvmsg(socket, &message, Darwin.LibC.MSG_DONTWAIT);
                    controlLength = (int)message.msg_controllen;
                    nativeFlags = message.msg_flags;
                    flags = ((nativeFlags & Darwin.LibC.MSG_CTRUNC) != 0 ? ReceiveFlags.ControlTruncated : 0)
                        | ((nativeFlags & Darwin.LibC.MSG_TRUNC) != 0 ? ReceiveFlags.DataTruncated : 0);
                }
                else
                {
                    throw Os.NotSupported();
                }

                if (result >= 0)
                {
                    received = (int)result;
                    controlLength = Math.Min(controlLength, control.Length);
                    return Errno.Success;
                }

                Errno errno = Errno.Last;
                if (errno != Errno.EINTR)
                {
                    received = 0;
                    controlLength = 0;
                    flags = ReceiveFlags.None;
                    return errno;
                }
            }
        }
    }
}
