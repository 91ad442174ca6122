using System.Net.Sockets;
using AsyncSendFd.Benchmarks.Infrastructure;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Benchmarks.Workloads;

/// <summary>One thread sends one descriptor and receives it back from the other end, then closes it.</summary>
internal sealed unsafe class PingPongWorkload : IDisposable
{
    private readonly SafeFileHandle _file = Descriptor.OpenDevNull();
    private readonly Socket _left;
    private readonly Socket _right;
    private readonly int _rawLeft;
    private readonly int _rawRight;
    private readonly int _fd;

    public PingPongWorkload()
    {
        (_left, _right) = SocketPair.CreateSockets();
        (_rawLeft, _rawRight) = SocketPair.CreateRaw();
        _fd = (int)_file.DangerousGetHandle();
    }

    /// <summary>socket.SendFd(file); peer.ReceiveFd(); Dispose; <paramref name="count"/> times.</summary>
    public void Managed(int count)
    {
        Socket left = _left;
        Socket right = _right;
        SafeFileHandle file = _file;
        for (int i = 0; i < count; i++)
        {
            left.SendFd(file);
            right.ReceiveFd().Dispose();
        }
    }

    /// <summary>sendmsg (MSG_NOSIGNAL|MSG_DONTWAIT) with one descriptor on four zero bytes; recvmsg (MSG_CMSG_CLOEXEC); close.</summary>
    public void Raw(int count)
    {
        int zero = 0;
        int received;
        int fd = _fd;
        for (int i = 0; i < count; i++)
        {
            RawFd.Send(_rawLeft, (byte*)&zero, sizeof(int), new ReadOnlySpan<int>(in fd), RawFd.NonBlockingSendFlags);
            _ = RawFd.ReceiveAndClose(_rawRight, (byte*)&received, sizeof(int), 1, RawFd.ReceiveFlags);
        }
    }

    public void Dispose()
    {
        _left.Dispose();
        _right.Dispose();
        SocketPair.Close(_rawLeft, _rawRight);
        _file.Dispose();
    }
}
