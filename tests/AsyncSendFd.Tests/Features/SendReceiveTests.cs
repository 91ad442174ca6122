using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;
using static AsyncSendFd.Tests.Support.Timeouts;

namespace AsyncSendFd.Tests.Features;

/// <summary>The basic round trips: one descriptor, several with a payload, the most a message may carry, none, on every socket type.</summary>
public class SendReceiveTests
{
    [Theory]
    [InlineData(SocketType.Stream)]
    [InlineData(SocketType.Dgram)]
    [LinuxInlineData(SocketType.Seqpacket)]
    public void SendFd_ThenReceiveFd_DeliversTheSameFile_OnEverySocketType(SocketType type)
    {
        using var pair = SocketPair.Create(type);
        using SafeFileHandle file = Descriptors.TempFile("sync " + type);

        pair.Left.SendFd(file);
        using SafeFileHandle received = pair.Right.ReceiveFd();

        Assert.NotEqual(file.DangerousGetHandle(), received.DangerousGetHandle());
        Assert.Equal(Descriptors.Target(file), Descriptors.Target(received));
        Assert.Equal("sync " + type, Descriptors.ReadAll(received));
        Assert.False(file.IsClosed);
        Assert.False(Pipe.IsReadable(pair.Right));
    }

    [Theory]
    [InlineData(SocketType.Stream)]
    [InlineData(SocketType.Dgram)]
    [LinuxInlineData(SocketType.Seqpacket)]
    public async Task SendFdAsync_ThenReceiveFdAsync_DeliversTheSameFile_OnEverySocketType(SocketType type)
    {
        using var pair = SocketPair.Create(type);
        using SafeFileHandle file = Descriptors.TempFile("async " + type);

        ValueTask<SafeFileHandle> receive = pair.Right.ReceiveFdAsync();
        await pair.Left.SendFdAsync(file);
        using SafeFileHandle received = await receive.AsTask().WaitAsync(Guard);

        Assert.Equal(Descriptors.Target(file), Descriptors.Target(received));
        Assert.Equal("async " + type, Descriptors.ReadAll(received));
        Assert.True(Descriptors.IsCloseOnExec(received));
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
    [InlineData(SocketType.Stream)]
    [InlineData(SocketType.Dgram)]
    [LinuxInlineData(SocketType.Seqpacket)]
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
                Descriptors.DisposeAll(slots);
            }
        }
        finally
        {
            Descriptors.DisposeAll(files);
        }
    }

    [Theory]
    [InlineData(SocketType.Stream)]
    [InlineData(SocketType.Dgram)]
    [LinuxInlineData(SocketType.Seqpacket)]
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
                Descriptors.DisposeAll(slots);
            }
        }
        finally
        {
            Descriptors.DisposeAll(files);
        }
    }

    [Theory]
    [InlineData(SocketType.Stream, Api.Sync)]
    [InlineData(SocketType.Stream, Api.Async)]
    [InlineData(SocketType.Dgram, Api.Sync)]
    [InlineData(SocketType.Dgram, Api.Async)]
    [LinuxInlineData(SocketType.Seqpacket, Api.Sync)]
    [LinuxInlineData(SocketType.Seqpacket, Api.Async)]
    public async Task SendFds_WithExactlyMaxFdsPerMessage_DeliversAllOfThem(SocketType type, Api api)
    {
        Assert.Equal(252, SocketFdExtensions.MaxFdsPerMessage);
        using var pair = SocketPair.Create(type);
        using var pipe = Pipe.Create();
        SafeHandle[] fds = [.. Enumerable.Repeat<SafeHandle>(pipe.Write, SocketFdExtensions.MaxFdsPerMessage)];

        await pair.Left.SendFds(api, "max"u8.ToArray(), fds).WaitAsync(Guard);

        var data = new byte[16];
        var slots = new SafeFileHandle?[SocketFdExtensions.MaxFdsPerMessage];
        FdReceiveResult result = await pair.Right.ReceiveFds(api, data, slots).WaitAsync(Guard);
        try
        {
            Assert.Equal(new FdReceiveResult(3, SocketFdExtensions.MaxFdsPerMessage), result);
            Assert.Equal("max"u8.ToArray(), data[..3]);
            string target = Descriptors.Target(pipe.Write);
            Assert.All(slots, slot => Assert.Equal(target, Descriptors.Target(slot!)));
            Assert.Equal(SocketFdExtensions.MaxFdsPerMessage, slots.Select(s => s!.DangerousGetHandle()).Distinct().Count());
        }
        finally
        {
            Descriptors.DisposeAll(slots);
        }
    }

    [Theory]
    [InlineData(SocketType.Dgram, Api.Sync)]
    [InlineData(SocketType.Dgram, Api.Async)]
    [LinuxInlineData(SocketType.Seqpacket, Api.Sync)]
    [LinuxInlineData(SocketType.Seqpacket, Api.Async)]
    public async Task SendFds_WithEmptyDataOnMessageSockets_DeliversTheDescriptors(SocketType type, Api api)
    {
        using var pair = SocketPair.Create(type);
        using SafeFileHandle file = Descriptors.TempFile("empty message");

        await pair.Left.SendFds(api, ReadOnlyMemory<byte>.Empty, [file, file]).WaitAsync(Guard);

        var data = new byte[16];
        var slots = new SafeFileHandle?[4];
        FdReceiveResult result = await pair.Right.ReceiveFds(api, data, slots).WaitAsync(Guard);
        try
        {
            Assert.Equal(new FdReceiveResult(0, 2), result);
            Assert.Equal("empty message", Descriptors.ReadAll(slots[0]!));
            Assert.Equal(Descriptors.Target(file), Descriptors.Target(slots[1]!));
            Assert.All(slots[2..], Assert.Null);
        }
        finally
        {
            Descriptors.DisposeAll(slots);
        }
    }

    [Theory]
    [InlineData(SocketType.Stream)]
    [InlineData(SocketType.Dgram)]
    [LinuxInlineData(SocketType.Seqpacket)]
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
}
