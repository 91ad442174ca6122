using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Tests.Support;

/// <summary>Fills and drains stream sockets so that sends stall deterministically.</summary>
internal static unsafe class SocketFill
{
    /// <summary>
    /// Shrinks the send buffer and writes <paramref name="fill"/> bytes with MSG_DONTWAIT until the kernel says EAGAIN:
    /// after that every send on <paramref name="socket"/> stalls until the peer reads.
    /// </summary>
    /// <returns>How many filler bytes were written.</returns>
    public static int FillSendBuffer(Socket socket, byte fill, int sendBufferSize = 4096)
    {
        socket.SendBufferSize = sendBufferSize;
        byte* chunk = stackalloc byte[512];
        new Span<byte>(chunk, 512).Fill(fill);
        int total = 0;
        int fd = (int)socket.SafeHandle.DangerousGetHandle();
        while (true)
        {
            nint sent = TestLibC.send(fd, chunk, 512, TestLibC.MSG_DONTWAIT | TestLibC.MSG_NOSIGNAL);
            if (sent > 0)
            {
                total += (int)sent;
                continue;
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno == TestLibC.EAGAIN)
            {
                return total;
            }

            throw new IOException($"send failed with errno {errno}");
        }
    }

    /// <summary>Reads exactly <paramref name="count"/> filler bytes through the library, checking that no descriptor rides on them.</summary>
    public static void DrainFiller(Socket socket, int count, byte fill)
    {
        var buffer = new byte[Math.Min(count, 65536)];
        var slots = new SafeFileHandle?[SocketFdExtensions.MaxFdsPerMessage];
        int left = count;
        while (left > 0)
        {
            FdReceiveResult result = socket.ReceiveFds(buffer.AsSpan(0, Math.Min(left, buffer.Length)), slots);
            if (result.BytesReceived == 0)
            {
                throw new EndOfStreamException($"end of stream with {left} filler bytes unread");
            }

            for (int i = 0; i < result.FdCount; i++)
            {
                slots[i]!.Dispose();
            }

            if (result.FdCount != 0)
            {
                throw new InvalidDataException($"{result.FdCount} descriptors rode on filler bytes");
            }

            if (buffer.AsSpan(0, result.BytesReceived).ContainsAnyExcept(fill))
            {
                throw new InvalidDataException("filler bytes were mixed with other bytes");
            }

            left -= result.BytesReceived;
        }
    }
}
