using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;
using Linux = AsyncSendFd.Native.Interop.Linux;
using static AsyncSendFd.Tests.Support.Timeouts;

namespace AsyncSendFd.Tests;

public class SendReceiveTests
{
    public static TheoryData<SocketType> AllTypes => [SocketType.Stream, SocketType.Dgram, SocketType.Seqpacket];

    public static TheoryData<SocketType> MessageTypes => [SocketType.Dgram, SocketType.Seqpacket];

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void SendFd_ThenReceiveFd_DeliversTheSameFile_OnEverySocketType(SocketType type)
    {
        using var pair = SocketPair.Create(type);
        using SafeFileHandle file = Descriptors.TempFile("sync " + type);

        pair.Left.SendFd(file);
        using SafeFileHandle received = pair.Right.ReceiveFd();

        Assert.Equal(Descriptors.Target(file), Descriptors.Target(received));
        Assert.Equal("sync " + type, Descriptors.ReadAll(received));
        Assert.False(Pipe.IsReadable(pair.Right));
    }

    [Theory]
    [MemberData(nameof(AllTypes))]
    public async Task SendFdAsync_ThenReceiveFdAsync_DeliversTheSameFile_OnEverySocketType(SocketType type)
    {
        using var pair = SocketPair.Create(type);
        using SafeFileHandle file = Descriptors.TempFile("async " + type);

        ValueTask<SafeFileHandle> receive = pair.Right.ReceiveFdAsync();
        await pair.Left.SendFdAsync(file);
        using SafeFileHandle received = await receive.AsTask().WaitAsync(Guard);

        Assert.Equal(Descriptors.Target(file), Descriptors.Target(received));
        Assert.Equal("async " + type, Descriptors.ReadAll(received));
    }

    [Fact]
    public void SendFd_WritesExactlyFourZeroBytesCarryingOneDescriptor()
    {
        using var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile();

        pair.Left.SendFd(file);

        var data = new byte[64];
        var slots = new SafeFileHandle?[4];
        FdReceiveResult result = pair.Right.ReceiveFds(data, slots);
        using SafeFileHandle received = slots[0]!;

        Assert.Equal(new FdReceiveResult(4, 1), result);
        Assert.Equal(new byte[4], data[..4]);
        Assert.Equal(Descriptors.Target(file), Descriptors.Target(received));
    }

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void SendFds_ThenReceiveFds_DeliversPayloadAndDescriptorsInOrder(SocketType type)
    {
        using var pair = SocketPair.Create(type);
        SafeFileHandle[] files = [.. Enumerable.Range(0, 7).Select(i => Descriptors.TempFile("file " + i))];
        try
        {
            byte[] payload = Encoding.UTF8.GetBytes("payload with seven descriptors");
            pair.Left.SendFds(payload, files);

            var data = new byte[256];
            var slots = new SafeFileHandle?[16];
            FdReceiveResult result = pair.Right.ReceiveFds(data, slots);
            try
            {
                Assert.Equal(new FdReceiveResult(payload.Length, files.Length), result);
                Assert.Equal(payload, data[..result.BytesReceived]);
                for (int i = 0; i < files.Length; i++)
                {
                    Assert.Equal(Descriptors.Target(files[i]), Descriptors.Target(slots[i]!));
                    Assert.Equal("file " + i, Descriptors.ReadAll(slots[i]!));
                }

                Assert.All(slots[files.Length..], Assert.Null);
            }
            finally
            {
                DisposeAll(slots);
            }
        }
        finally
        {
            DisposeAll(files);
        }
    }

    [Theory]
    [MemberData(nameof(AllTypes))]
    public async Task SendFdsAsync_ThenReceiveFdsAsync_DeliversPayloadAndDescriptors(SocketType type)
    {
        using var pair = SocketPair.Create(type);
        SafeFileHandle[] files = [.. Enumerable.Range(0, 3).Select(i => Descriptors.TempFile("async file " + i))];
        try
        {
            byte[] payload = [1, 2, 3, 4, 5, 6, 7, 8, 9];
            var data = new byte[64];
            var slots = new SafeFileHandle?[8];
            ValueTask<FdReceiveResult> receive = pair.Right.ReceiveFdsAsync(data, slots);
            await pair.Left.SendFdsAsync(payload, files);
            FdReceiveResult result = await receive.AsTask().WaitAsync(Guard);
            try
            {
                Assert.Equal(new FdReceiveResult(payload.Length, files.Length), result);
                Assert.Equal(payload, data[..result.BytesReceived]);
                for (int i = 0; i < files.Length; i++)
                {
                    Assert.Equal("async file " + i, Descriptors.ReadAll(slots[i]!));
                }
            }
            finally
            {
                DisposeAll(slots);
            }
        }
        finally
        {
            DisposeAll(files);
        }
    }

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void SendFds_WithExactlyMaxFdsPerMessage_DeliversAllOfThem(SocketType type)
    {
        Assert.Equal(252, SocketFdExtensions.MaxFdsPerMessage);
        using var pair = SocketPair.Create(type);
        using var pipe = Pipe.Create();
        SafeHandle[] fds = [.. Enumerable.Repeat<SafeHandle>(pipe.Write, SocketFdExtensions.MaxFdsPerMessage)];

        pair.Left.SendFds("max"u8, fds);

        var data = new byte[16];
        var slots = new SafeFileHandle?[SocketFdExtensions.MaxFdsPerMessage];
        FdReceiveResult result = pair.Right.ReceiveFds(data, slots);
        try
        {
            Assert.Equal(new FdReceiveResult(3, SocketFdExtensions.MaxFdsPerMessage), result);
            string target = Descriptors.Target(pipe.Write);
            Assert.All(slots, slot => Assert.Equal(target, Descriptors.Target(slot!)));
            Assert.Equal(SocketFdExtensions.MaxFdsPerMessage, slots.Select(s => s!.DangerousGetHandle()).Distinct().Count());
        }
        finally
        {
            DisposeAll(slots);
        }
    }

    [Fact]
    public async Task SendFdsAsync_WithExactlyMaxFdsPerMessage_DeliversAllOfThem()
    {
        using var pair = SocketPair.Create();
        using var pipe = Pipe.Create();
        SafeHandle[] fds = [.. Enumerable.Repeat<SafeHandle>(pipe.Write, SocketFdExtensions.MaxFdsPerMessage)];

        await pair.Left.SendFdsAsync(new byte[] { 42 }, fds);

        var data = new byte[16];
        var slots = new SafeFileHandle?[SocketFdExtensions.MaxFdsPerMessage];
        FdReceiveResult result = await pair.Right.ReceiveFdsAsync(data, slots).AsTask().WaitAsync(Guard);
        try
        {
            Assert.Equal(new FdReceiveResult(1, SocketFdExtensions.MaxFdsPerMessage), result);
            Assert.Equal(42, data[0]);
        }
        finally
        {
            DisposeAll(slots);
        }
    }

    [Theory]
    [MemberData(nameof(MessageTypes))]
    public void SendFds_WithEmptyDataOnMessageSockets_DeliversTheDescriptors(SocketType type)
    {
        using var pair = SocketPair.Create(type);
        using SafeFileHandle file = Descriptors.TempFile("empty message");

        pair.Left.SendFds([], [file, file]);

        var data = new byte[16];
        var slots = new SafeFileHandle?[4];
        FdReceiveResult result = pair.Right.ReceiveFds(data, slots);
        try
        {
            Assert.Equal(new FdReceiveResult(0, 2), result);
            Assert.Equal("empty message", Descriptors.ReadAll(slots[1]!));
        }
        finally
        {
            DisposeAll(slots);
        }
    }

    [Theory]
    [MemberData(nameof(MessageTypes))]
    public async Task SendFdsAsync_WithEmptyDataOnMessageSockets_DeliversTheDescriptors(SocketType type)
    {
        using var pair = SocketPair.Create(type);
        using SafeFileHandle file = Descriptors.TempFile("empty async");

        await pair.Left.SendFdsAsync(ReadOnlyMemory<byte>.Empty, new SafeHandle[] { file });

        var slots = new SafeFileHandle?[4];
        FdReceiveResult result = await pair.Right.ReceiveFdsAsync(new byte[16], slots).AsTask().WaitAsync(Guard);
        try
        {
            Assert.Equal(new FdReceiveResult(0, 1), result);
            Assert.Equal("empty async", Descriptors.ReadAll(slots[0]!));
        }
        finally
        {
            DisposeAll(slots);
        }
    }

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void SendFds_WithNoDescriptors_SendsPlainData(SocketType type)
    {
        using var pair = SocketPair.Create(type);

        pair.Left.SendFds("just bytes"u8, []);

        var data = new byte[64];
        var slots = new SafeFileHandle?[4];
        FdReceiveResult result = pair.Right.ReceiveFds(data, slots);

        Assert.Equal(new FdReceiveResult(10, 0), result);
        Assert.Equal("just bytes", Encoding.ASCII.GetString(data, 0, 10));
    }

    [Fact]
    public async Task SendFdsAsync_WithPayloadLargerThanTheSocketBuffer_DeliversEveryByteAndTheDescriptorsOnTheFirst()
    {
        using var pair = SocketPair.Create();
        pair.Left.SendBufferSize = 8192;
        using SafeFileHandle file = Descriptors.TempFile("big");
        byte[] payload = new byte[1 << 20];
        Random.Shared.NextBytes(payload);

        Task send = pair.Left.SendFdsAsync(payload, new SafeHandle[] { file, file }).AsTask();

        var received = new MemoryStream();
        var data = new byte[65536];
        var slots = new SafeFileHandle?[4];
        var fdsAt = new List<(long Offset, int Count)>();
        while (received.Length < payload.Length)
        {
            FdReceiveResult result = await pair.Right.ReceiveFdsAsync(data, slots).AsTask().WaitAsync(Guard);
            Assert.NotEqual(0, result.BytesReceived);
            if (result.FdCount > 0)
            {
                fdsAt.Add((received.Length, result.FdCount));
                Assert.Equal("big", Descriptors.ReadAll(slots[0]!));
                DisposeAll(slots);
            }

            received.Write(data, 0, result.BytesReceived);
        }

        await send.WaitAsync(Guard);
        Assert.Equal(payload, received.ToArray());
        Assert.Equal([(0L, 2)], fdsAt);
        Assert.False(Pipe.IsReadable(pair.Right));
    }

    [Fact]
    public void SendFds_WithPayloadLargerThanTheSocketBuffer_BlocksUntilTheWholeMessageIsWritten()
    {
        using var pair = SocketPair.Create();
        pair.Left.SendBufferSize = 8192;
        using SafeFileHandle file = Descriptors.TempFile("big sync");
        byte[] payload = new byte[512 * 1024];
        Random.Shared.NextBytes(payload);

        var sender = new Thread(() => pair.Left.SendFds(payload, [file]));
        sender.Start();

        var received = new MemoryStream();
        var data = new byte[65536];
        var slots = new SafeFileHandle?[4];
        int fdCount = 0;
        while (received.Length < payload.Length)
        {
            FdReceiveResult result = pair.Right.ReceiveFds(data, slots);
            Assert.NotEqual(0, result.BytesReceived);
            if (result.FdCount > 0)
            {
                Assert.Equal(0, received.Length);
                fdCount += result.FdCount;
                DisposeAll(slots);
            }

            received.Write(data, 0, result.BytesReceived);
        }

        Assert.True(sender.Join(Guard));
        Assert.Equal(1, fdCount);
        Assert.Equal(payload, received.ToArray());
    }

    [Fact]
    public void ReceiveFds_OnStream_StopsAtTheEndOfTheDescriptorCarryingSend()
    {
        using var pair = SocketPair.Create();
        using SafeFileHandle first = Descriptors.TempFile("first");
        using SafeFileHandle second = Descriptors.TempFile("second");

        pair.Left.SendFds("aaaa"u8, [first]);
        pair.Left.SendFds("bbbb"u8, [second]);

        var data = new byte[64];
        var slots = new SafeFileHandle?[4];
        Assert.Equal(new FdReceiveResult(4, 1), pair.Right.ReceiveFds(data, slots));
        Assert.Equal("aaaa", Encoding.ASCII.GetString(data, 0, 4));
        Assert.Equal("first", Descriptors.ReadAll(slots[0]!));
        DisposeAll(slots);

        Assert.Equal(new FdReceiveResult(4, 1), pair.Right.ReceiveFds(data, slots));
        Assert.Equal("bbbb", Encoding.ASCII.GetString(data, 0, 4));
        Assert.Equal("second", Descriptors.ReadAll(slots[0]!));
        DisposeAll(slots);
    }

    [Fact]
    public void ReceivedDescriptors_AreCloseOnExec()
    {
        using var pair = SocketPair.Create();
        using var pipe = Pipe.Create();
        ClearCloseOnExec(pipe.Write);
        Assert.False(Descriptors.IsCloseOnExec(pipe.Write));

        pair.Left.SendFds("x"u8, [pipe.Write, pipe.Write, pipe.Write]);
        var slots = new SafeFileHandle?[3];
        pair.Right.ReceiveFds(new byte[1], slots);
        try
        {
            Assert.All(slots, slot => Assert.True(Descriptors.IsCloseOnExec(slot!)));
        }
        finally
        {
            DisposeAll(slots);
        }

        pair.Left.SendFd(pipe.Write);
        using SafeFileHandle one = pair.Right.ReceiveFd();
        Assert.True(Descriptors.IsCloseOnExec(one));
    }

    [Fact]
    public async Task ReceivedDescriptors_AreCloseOnExec_Async()
    {
        using var pair = SocketPair.Create();
        using var pipe = Pipe.Create();
        ClearCloseOnExec(pipe.Write);

        await pair.Left.SendFdAsync(pipe.Write);
        using SafeFileHandle one = await pair.Right.ReceiveFdAsync().AsTask().WaitAsync(Guard);
        Assert.True(Descriptors.IsCloseOnExec(one));

        using var transported = SocketPair.Create();
        ClearCloseOnExec(transported.Left.SafeHandle);
        await pair.Left.SendSocketAsync(transported.Left);
        using Socket socket = await pair.Right.ReceiveSocketAsync().AsTask().WaitAsync(Guard);
        Assert.True(Descriptors.IsCloseOnExec(socket.SafeHandle));
    }

    [Fact]
    public void ReceiveFds_SkipsCredentialsControlMessages_WhenSoPassCredIsOn()
    {
        using var pair = SocketPair.Create();
        pair.Right.SetRawSocketOption(Linux.LibC.SOL_SOCKET, Linux.LibC.SO_PASSCRED, BitConverter.GetBytes(1));
        using var pipe = Pipe.Create();
        SafeHandle[] fds = [.. Enumerable.Repeat<SafeHandle>(pipe.Write, SocketFdExtensions.MaxFdsPerMessage)];

        pair.Left.SendFds("creds"u8, fds);
        var slots = new SafeFileHandle?[SocketFdExtensions.MaxFdsPerMessage];
        FdReceiveResult result = pair.Right.ReceiveFds(new byte[16], slots);
        try
        {
            Assert.Equal(new FdReceiveResult(5, SocketFdExtensions.MaxFdsPerMessage), result);
        }
        finally
        {
            DisposeAll(slots);
        }

        pair.Left.SendFd(pipe.Write);
        using SafeFileHandle one = pair.Right.ReceiveFd();
        Assert.Equal(Descriptors.Target(pipe.Write), Descriptors.Target(one));
    }

    [Fact]
    public void ReceivedWriteEnd_WritesIntoTheSendersPipe()
    {
        using var pair = SocketPair.Create();
        using var pipe = Pipe.Create();

        pair.Left.SendFd(pipe.Write);
        using (SafeFileHandle received = pair.Right.ReceiveFd())
        {
            Pipe.WriteAll(received, "through the copy"u8);
        }

        Assert.Equal("through the copy", Encoding.ASCII.GetString(pipe.ReadAvailable()));
    }

    private static unsafe void ClearCloseOnExec(SafeHandle handle)
    {
        int fd = (int)handle.DangerousGetHandle();
        Assert.Equal(0, AsyncSendFd.Native.Interop.Unix.LibC.fcntl(fd, Linux.LibC.F_SETFD, 0));
    }

    internal static void DisposeAll(IList<SafeFileHandle?> handles)
    {
        for (int i = 0; i < handles.Count; i++)
        {
            handles[i]?.Dispose();
            handles[i] = null;
        }
    }
}
