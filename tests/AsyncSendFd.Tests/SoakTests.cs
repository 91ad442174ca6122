using System.Net.Sockets;
using System.Runtime.InteropServices;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Tests;

/// <summary>Tens of thousands of passes leave the descriptor count where it started.</summary>
[Collection(DescriptorsCollection.Name)]
public class SoakTests
{
    private const int Passes = 20_000;

    [Fact]
    public void SendFdThenReceiveFd_20000Times_KeepsTheDescriptorCountStable()
    {
        using var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile("soak");
        string target = Descriptors.Target(file);
        pair.Left.SendFd(file);
        pair.Right.ReceiveFd().Dispose();
        int before = Leak.StableCount();

        for (int i = 0; i < Passes; i++)
        {
            pair.Left.SendFd(file);
            using SafeFileHandle received = pair.Right.ReceiveFd();
            if (i % 5000 == 0)
            {
                Assert.Equal(target, Descriptors.Target(received));
                Assert.Equal(before + 1, Descriptors.CountSettledAt(before + 1));
            }
        }

        Assert.Equal(before, Descriptors.CountSettledAt(before));
    }

    [Fact]
    public async Task SendFdAsyncThenReceiveFdAsync_20000Times_KeepsTheDescriptorCountStable()
    {
        using var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile("soak async");
        await pair.Left.SendFdAsync(file);
        (await pair.Right.ReceiveFdAsync()).Dispose();
        int before = Leak.StableCount();

        for (int i = 0; i < Passes; i++)
        {
            ValueTask<SafeFileHandle> receive = pair.Right.ReceiveFdAsync();
            await pair.Left.SendFdAsync(file);
            using SafeFileHandle received = await receive;
        }

        Assert.Equal(before, Descriptors.CountSettledAt(before));
    }

    [Fact]
    public async Task ConcurrentAsyncSenderAndReceiver_20000Passes_KeepTheDescriptorCountStable()
    {
        using var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile();
        await pair.Left.SendFdAsync(file);
        (await pair.Right.ReceiveFdAsync()).Dispose();
        int before = Leak.StableCount();

        Task sender = Task.Run(async () =>
        {
            for (int i = 0; i < Passes; i++)
            {
                await pair.Left.SendFdAsync(file);
            }
        });
        for (int i = 0; i < Passes; i++)
        {
            (await pair.Right.ReceiveFdAsync()).Dispose();
        }

        await sender.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(before, Descriptors.CountSettledAt(before));
    }

    [Fact]
    public void MaxDescriptorMessages_200Times_KeepTheDescriptorCountStable()
    {
        using var pair = SocketPair.Create(SocketType.Seqpacket);
        using var pipe = Pipe.Create();
        SafeHandle[] fds = [.. Enumerable.Repeat<SafeHandle>(pipe.Write, SocketFdExtensions.MaxFdsPerMessage)];
        var slots = new SafeFileHandle?[SocketFdExtensions.MaxFdsPerMessage];
        int before = Leak.StableCount();

        for (int i = 0; i < 200; i++)
        {
            pair.Left.SendFds("m"u8, fds);
            Assert.Equal(new FdReceiveResult(1, SocketFdExtensions.MaxFdsPerMessage), pair.Right.ReceiveFds(new byte[1], slots));
            SendReceiveTests.DisposeAll(slots);
        }

        Assert.Equal(before, Descriptors.CountSettledAt(before));
    }

    [Fact]
    public void RejectedMessages_2000Times_KeepTheDescriptorCountStable()
    {
        using var pair = SocketPair.Create();
        using var pipe = Pipe.Create();
        SafeHandle[] fds = [.. Enumerable.Repeat<SafeHandle>(pipe.Write, 50)];
        var slots = new SafeFileHandle?[10];
        int before = Leak.StableCount();

        for (int i = 0; i < 2000; i++)
        {
            pair.Left.SendFds("too many"u8, fds);
            Assert.ThrowsAny<IOException>(() => pair.Right.ReceiveFds(new byte[16], slots));
        }

        Assert.Equal(before, Descriptors.CountSettledAt(before));
    }

    [Fact]
    public async Task SocketTransfers_2000Times_KeepTheDescriptorCountStable()
    {
        using var pair = SocketPair.Create();
        using var payload = SocketPair.Create();
        pair.Left.SendSocket(payload.Left);
        pair.Right.ReceiveSocket().Dispose();
        int before = Leak.StableCount();

        for (int i = 0; i < 1000; i++)
        {
            pair.Left.SendSocket(payload.Left);
            pair.Right.ReceiveSocket().Dispose();
            await pair.Left.SendSocketAsync(payload.Left);
            (await pair.Right.ReceiveSocketAsync()).Dispose();
        }

        Assert.Equal(before, Descriptors.CountSettledAt(before));
    }
}
