using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using AsyncSendFd.Native.Interop.Linux;
using Unix = AsyncSendFd.Native.Interop.Unix;

namespace AsyncSendFd.Benchmarks.Infrastructure;

/// <summary>
/// The interop floor: sendmsg/recvmsg with a control buffer sized exactly for the descriptors, no handles,
/// no gates, no validation. What the library does, minus everything the library adds.
/// </summary>
internal static unsafe class RawFd
{
    /// <summary>The library's send flags: never block, never raise SIGPIPE.</summary>
    public const int NonBlockingSendFlags = LibC.MSG_NOSIGNAL | LibC.MSG_DONTWAIT;

    /// <summary>For the blocking two-thread floor.</summary>
    public const int BlockingSendFlags = LibC.MSG_NOSIGNAL;

    /// <summary>The library's receive flag on Linux: descriptors arrive close-on-exec, atomically.</summary>
    public const int ReceiveFlags = LibC.MSG_CMSG_CLOEXEC;

    /// <summary>Sends <paramref name="dataLength"/> bytes with <paramref name="fds"/> riding on the first.</summary>
    [SkipLocalsInit]
    public static void Send(int socket, byte* data, int dataLength, ReadOnlySpan<int> fds, int flags)
    {
        int payload = fds.Length * sizeof(int);
        int space = (int)LibC.CMSG_SPACE((nuint)payload);
        byte* control = stackalloc byte[space];
        var iov = new Unix.iovec { iov_base = data, iov_len = (nuint)dataLength };
        var message = new msghdr
        {
            msg_iov = &iov,
            msg_iovlen = 1,
            msg_control = control,
            msg_controllen = (nuint)space,
        };

        cmsghdr* header = LibC.CMSG_FIRSTHDR(&message);
        header->cmsg_len = LibC.CMSG_LEN((nuint)payload);
        header->cmsg_level = LibC.SOL_SOCKET;
        header->cmsg_type = LibC.SCM_RIGHTS;
        byte* payloadStart = LibC.CMSG_DATA(header);
        fds.CopyTo(new Span<int>(payloadStart, fds.Length));
        int written = (int)(payloadStart - control) + payload;
        new Span<byte>(control + written, space - written).Clear();

        int offset = 0;
        while (offset < dataLength)
        {
            nint sent = LibC.sendmsg(socket, &message, flags);
            if (sent < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == LibC.EINTR)
                {
                    continue;
                }

                Marshal.SetLastPInvokeError(errno);
                throw new SocketException(); // maps errno; SocketException(int) would read it as a SocketError
            }

            // A partial write: the rest follows without the descriptors, as the library does.
            offset += (int)sent;
            iov.iov_base = data + offset;
            iov.iov_len = (nuint)(dataLength - offset);
            message.msg_control = null;
            message.msg_controllen = 0;
        }
    }

    /// <summary>Receives one message and closes every descriptor it carried.</summary>
    /// <returns>The number of descriptors received and closed.</returns>
    [SkipLocalsInit]
    public static int ReceiveAndClose(int socket, byte* data, int dataLength, int maxFds, int flags)
    {
        int space = (int)LibC.CMSG_SPACE((nuint)(maxFds * sizeof(int)));
        byte* control = stackalloc byte[space];
        var iov = new Unix.iovec { iov_base = data, iov_len = (nuint)dataLength };
        var message = new msghdr
        {
            msg_iov = &iov,
            msg_iovlen = 1,
            msg_control = control,
            msg_controllen = (nuint)space,
        };

        nint received;
        while ((received = LibC.recvmsg(socket, &message, flags)) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != LibC.EINTR)
            {
                Marshal.SetLastPInvokeError(errno);
                throw new SocketException(); // maps errno; SocketException(int) would read it as a SocketError
            }
        }

        if (received == 0 || (message.msg_flags & LibC.MSG_CTRUNC) != 0)
        {
            throw new IOException($"Unexpected receive: {received} bytes, flags 0x{message.msg_flags:x}.");
        }

        int count = 0;
        for (cmsghdr* header = LibC.CMSG_FIRSTHDR(&message); header != null; header = LibC.CMSG_NXTHDR(&message, header))
        {
            if (header->cmsg_level == LibC.SOL_SOCKET && header->cmsg_type == LibC.SCM_RIGHTS)
            {
                int n = (int)((header->cmsg_len - LibC.CMSG_LEN(0)) / sizeof(int));
                int* fds = (int*)LibC.CMSG_DATA(header);
                for (int i = 0; i < n; i++)
                {
                    _ = Unix.LibC.close(fds[i]);
                }

                count += n;
            }
        }

        return count;
    }
}
