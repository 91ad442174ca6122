using System.Net.Sockets;
using System.Runtime.InteropServices;
using AsyncSendFd.Benchmarks.Infrastructure;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Benchmarks.Workloads;

/// <summary>One thread sends 64 descriptors on one data byte and receives them into 64 slots, then closes them all.</summary>
internal sealed unsafe class BatchWorkload : IDisposable
{
    public const int FdsPerMessage = 64;

    private readonly SafeFileHandle _file = Descriptor.OpenDevNull();
    private readonly SafeHandle[] _handles = new SafeHandle[FdsPerMessage];
    private readonly int[] _rawFds = new int[FdsPerMessage];
    private readonly SafeFileHandle?[] _slots = new SafeFileHandle?[FdsPerMessage];
    private readonly byte[] _sendData = [42];
    private readonly byte[] _receiveData = new byte[1];
    private readonly Socket _left;
    private readonly Socket _right;
    private readonly int _rawLeft;
    private readonly int _rawRight;

    public BatchWorkload()
    {
        (_left, _right) = SocketPair.CreateSockets();
        (_rawLeft, _rawRight) = SocketPair.CreateRaw();
        Array.Fill(_handles, _file);
        Array.Fill(_rawFds, (int)_file.DangerousGetHandle());
    }

    /// <summary>SendFds(1 byte, 64 handles); ReceiveFds(1 byte, 64 slots); dispose all; <paramref name="messages"/> times.</summary>
    public void Managed(int messages)
    {
        Socket left = _left;
        Socket right = _right;
        SafeFileHandle?[] slots = _slots;
        for (int m = 0; m < messages; m++)
        {
            left.SendFds(_sendData, _handles);
            FdReceiveResult result = right.ReceiveFds(_receiveData, slots);
            if (result.FdCount != FdsPerMessage)
            {
                throw new InvalidOperationException($"Received {result.FdCount} descriptors, expected {FdsPerMessage}.");
            }

            for (int i = 0; i < result.FdCount; i++)
            {
                slots[i]!.Dispose();
                slots[i] = null;
            }
        }
    }

    /// <summary>The same with sendmsg/recvmsg/close.</summary>
    public void Raw(int messages)
    {
        fixed (byte* send = _sendData)
        fixed (byte* receive = _receiveData)
        {
            for (int m = 0; m < messages; m++)
            {
                RawFd.Send(_rawLeft, send, 1, _rawFds, RawFd.NonBlockingSendFlags);
                int count = RawFd.ReceiveAndClose(_rawRight, receive, 1, FdsPerMessage, RawFd.ReceiveFlags);
                if (count != FdsPerMessage)
                {
                    throw new InvalidOperationException($"Received {count} descriptors, expected {FdsPerMessage}.");
                }
            }
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
