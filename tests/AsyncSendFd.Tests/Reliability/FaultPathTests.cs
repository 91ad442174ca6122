using System.Net.Sockets;
using System.Runtime.InteropServices;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;
using Xunit.Abstractions;

namespace AsyncSendFd.Tests.Reliability;

/// <summary>
/// Every way a receive can fail between recvmsg and handing handles to the caller closes the descriptors that
/// arrived; cancellation and disposal never lose, leak or misdeliver one, and never hang.
/// </summary>
[Collection(DescriptorsCollection.Name)]
public class FaultPathTests(ITestOutputHelper output)
{
    [Fact]
    public async Task MoreDescriptorsThanSlots_SyncAndAsync_ThrowIOExceptionClosingAll_NextMessageStillArrives()
    {
        using var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile("slots");
        var baseline = DescriptorSnapshot.Take();

        pair.Left.SendFds("abc"u8, [file, file, file]);
        var slots = new SafeFileHandle?[2];
        Assert.Throws<IOException>(() => pair.Right.ReceiveFds(new byte[3], slots));
        Assert.All(slots, Assert.Null);
        DescriptorSnapshot.AssertBackTo(baseline);

        pair.Left.SendFds("abc"u8, [file, file, file]);
        await Assert.ThrowsAsync<IOException>(async () => await pair.Right.ReceiveFdsAsync(new byte[3], slots));
        Assert.All(slots, Assert.Null);
        DescriptorSnapshot.AssertBackTo(baseline);

        await pair.Left.SendFdAsync(file);
        using (SafeFileHandle next = await pair.Right.ReceiveFdAsync())
        {
            Assert.Equal(Descriptors.Target(file), Descriptors.Target(next));
        }

        DescriptorSnapshot.AssertBackTo(baseline);
    }

    [Theory]
    [InlineData(SocketType.Seqpacket)]
    [InlineData(SocketType.Dgram)]
    public async Task DatagramLongerThanTheBuffer_MsgTrunc_ThrowsIOExceptionClosingItsDescriptors(SocketType type)
    {
        using var pair = SocketPair.Create(type);
        using SafeFileHandle file = Descriptors.TempFile();
        var baseline = DescriptorSnapshot.Take();

        pair.Left.SendFds("0123456789"u8, [file, file]);
        var slots = new SafeFileHandle?[4];
        IOException e = Assert.Throws<IOException>(() => pair.Right.ReceiveFds(new byte[4], slots));
        output.WriteLine(e.Message);
        Assert.All(slots, Assert.Null);
        DescriptorSnapshot.AssertBackTo(baseline);

        await pair.Left.SendFdsAsync(new byte[10], new SafeHandle[] { file });
        await Assert.ThrowsAsync<IOException>(async () => await pair.Right.ReceiveFdsAsync(new byte[9], slots));
        DescriptorSnapshot.AssertBackTo(baseline);

        pair.Left.SendFds("ok"u8, [file]);
        Assert.Equal(new FdReceiveResult(2, 1), pair.Right.ReceiveFds(new byte[4], slots));
        slots[0]!.Dispose();
        DescriptorSnapshot.AssertBackTo(baseline);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    public void ReceiverOutOfDescriptors_KernelSetsMsgCtrunc_ThrowsIOExceptionClosingWhatWasInstalled(int free)
    {
        using var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile();
        SafeHandle[] many = Enumerable.Repeat<SafeHandle>(file, SocketFdExtensions.MaxFdsPerMessage).ToArray();
        pair.Left.SendFds("x"u8, many);
        pair.Left.SendFd(file);
        var baseline = DescriptorSnapshot.Take();
        var slots = new SafeFileHandle?[SocketFdExtensions.MaxFdsPerMessage];

        Exception? failure;
        int freeNumbers;
        using (NoFileLimit limit = NoFileLimit.JustAboveHighestOpen(free))
        {
            freeNumbers = limit.FreeNumbers;
            failure = Record.Exception(() => pair.Right.ReceiveFds(new byte[1], slots));
        }

        output.WriteLine($"{freeNumbers} numbers free; {failure?.GetType().Name}: {failure?.Message}");
        Assert.True(freeNumbers < SocketFdExtensions.MaxFdsPerMessage, "precondition: the limit must bite");
        Assert.IsAssignableFrom<IOException>(failure);
        Assert.All(slots, Assert.Null);
        DescriptorSnapshot.AssertBackTo(baseline);

        using (SafeFileHandle next = pair.Right.ReceiveFd())
        {
            Assert.Equal(Descriptors.Target(file), Descriptors.Target(next));
        }

        DescriptorSnapshot.AssertBackTo(baseline);
    }

    [Fact]
    public async Task ReceiveFdOfAMessageWithTwoDescriptors_ThrowsIOExceptionClosingBoth()
    {
        using var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile();
        var baseline = DescriptorSnapshot.Take();

        pair.Left.SendFds("\0\0\0\0"u8, [file, file]);
        Assert.Throws<IOException>(() => pair.Right.ReceiveFd());
        DescriptorSnapshot.AssertBackTo(baseline);

        pair.Left.SendFds("\0\0\0\0"u8, [file, file]);
        await Assert.ThrowsAsync<IOException>(async () => await pair.Right.ReceiveFdAsync());
        DescriptorSnapshot.AssertBackTo(baseline);

        pair.Left.SendFds("\0\0\0\0"u8, [pair.Left.SafeHandle, pair.Left.SafeHandle]);
        Assert.Throws<IOException>(() => pair.Right.ReceiveSocket());
        DescriptorSnapshot.AssertBackTo(baseline);

        pair.Left.SendFds("\0\0\0\0"u8, []);
        Assert.Throws<IOException>(() => pair.Right.ReceiveFd());
        DescriptorSnapshot.AssertBackTo(baseline);

        pair.Left.SendFd(file);
        pair.Right.ReceiveFd().Dispose();
        DescriptorSnapshot.AssertBackTo(baseline);
    }

    [Fact]
    public async Task ReceiveSocketOfANonSocketDescriptor_ThrowsIOExceptionAndClosesIt()
    {
        using var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile();
        var baseline = DescriptorSnapshot.Take();

        pair.Left.SendFd(file);
        IOException sync = Assert.Throws<IOException>(() => pair.Right.ReceiveSocket());
        output.WriteLine($"{sync.Message} inner: {sync.InnerException?.GetType().Name}: {sync.InnerException?.Message}");
        DescriptorSnapshot.AssertBackTo(baseline);

        await pair.Left.SendFdAsync(file);
        await Assert.ThrowsAsync<IOException>(async () => await pair.Right.ReceiveSocketAsync());
        DescriptorSnapshot.AssertBackTo(baseline);

        await pair.Left.SendSocketAsync(pair.Left);
        using (Socket received = await pair.Right.ReceiveSocketAsync())
        {
            Assert.Equal(AddressFamily.Unix, received.AddressFamily);
        }

        DescriptorSnapshot.AssertBackTo(baseline);
    }

    [Fact]
    public async Task CancellationRacingCompletion_EveryDescriptorIsReceivedOnceOrStaysInTheSocket()
    {
        const int Sent = 600;
        using var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile();
        string target = Descriptors.Target(file);
        var baseline = DescriptorSnapshot.Take();
        var random = new Random(20240611);

        Task sender = Task.Run(async () =>
        {
            var jitter = new Random(7);
            for (int i = 0; i < Sent; i++)
            {
                await pair.Left.SendFdAsync(file);
                if (jitter.Next(3) == 0)
                {
                    await Task.Delay(1); // the receiver is often waiting when its token fires
                }
            }
        });

        int received = 0;
        int canceled = 0;
        int canceledWhileWaiting = 0;
        DateTime deadline = DateTime.UtcNow.AddSeconds(30);
        while (received < Sent)
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out: {received} received, {canceled} canceled");
            using var cts = new CancellationTokenSource();
            ValueTask<SafeFileHandle> receive = pair.Right.ReceiveFdAsync(cts.Token);
            switch (random.Next(4))
            {
                case 0:
                    cts.Cancel();
                    break;
                case 1:
                    Thread.SpinWait(random.Next(2000));
                    cts.Cancel();
                    break;
                case 2:
                    cts.CancelAfter(random.Next(2));
                    break;
                default:
                    break;
            }

            bool waiting = !receive.IsCompleted;
            try
            {
                using SafeFileHandle handle = await receive;
                Assert.Equal(target, Descriptors.Target(handle));
                received++;
            }
            catch (OperationCanceledException)
            {
                canceled++;
                canceledWhileWaiting += waiting ? 1 : 0;
                if (sender.IsCompleted && pair.Right.Available == 0 && received < Sent)
                {
                    Assert.Fail($"a canceled receive lost a descriptor: {received} of {Sent} received, socket empty");
                }
            }
        }

        await sender;
        output.WriteLine($"received {received}, canceled {canceled} ({canceledWhileWaiting} while waiting)");
        Assert.True(canceledWhileWaiting > 20, "precondition: cancellation must often hit a waiting receive");
        Assert.Equal(0, pair.Right.Available);
        DescriptorSnapshot.AssertBackTo(baseline);
    }

    [Fact]
    public async Task DisposingTheSocketWhileAReceiveAndAStalledSendWait_BothCompleteWithinSeconds()
    {
        var baseline = DescriptorSnapshot.Take();
        var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile();

        Task<SafeFileHandle> receive = pair.Left.ReceiveFdAsync().AsTask();
        Task stalled = Task.CompletedTask;
        for (int i = 0; i < 100_000 && stalled.IsCompleted; i++)
        {
            stalled = pair.Left.SendFdAsync(file).AsTask();
        }

        Assert.False(stalled.IsCompleted, "precondition: the send buffer must fill");
        await Task.Delay(50);
        Assert.False(receive.IsCompleted);

        Task dispose = Task.Run(pair.Left.Dispose);
        Assert.True(await Completes(dispose, TimeSpan.FromSeconds(10)), "Socket.Dispose hung");
        Assert.True(await Completes(receive, TimeSpan.FromSeconds(10)), "ReceiveFdAsync hung after Dispose");
        Assert.True(await Completes(stalled, TimeSpan.FromSeconds(10)), "stalled SendFdAsync hung after Dispose");

        Exception receiveError = await Assert.ThrowsAnyAsync<Exception>(() => receive);
        Exception sendError = await Assert.ThrowsAnyAsync<Exception>(() => stalled);
        output.WriteLine($"receive: {receiveError.GetType().Name}: {receiveError.Message}\nsend: {sendError.GetType().Name}: {sendError.Message}");
        Assert.True(receiveError is ObjectDisposedException or OperationCanceledException or SocketException, receiveError.ToString());
        Assert.True(sendError is ObjectDisposedException or OperationCanceledException or SocketException, sendError.ToString());

        pair.Right.Dispose();
        file.Dispose();
        DescriptorSnapshot.AssertBackTo(baseline);
    }

    [Fact]
    public async Task DisposingAHandleWhileItIsBeingSent_EitherDeliversThatFileOrThrowsObjectDisposed()
    {
        const int Iterations = 300;
        using var pair = SocketPair.Create();
        var baseline = DescriptorSnapshot.Take();
        using var stop = new CancellationTokenSource();

        // Grabs every descriptor number that becomes free, so a number reused mid-send would point here.
        Task thief = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                using SafeFileHandle decoy = TestNative.OpenDevNull();
                Thread.SpinWait(50);
            }
        });

        int delivered = 0;
        int refused = 0;
        var random = new Random(99);
        for (int i = 0; i < Iterations; i++)
        {
            SafeFileHandle file = Descriptors.TempFile($"file {i}");
            int delay = random.Next(3000);
            Task send = Task.Run(async () => await pair.Left.SendFdAsync(file));
            Thread.SpinWait(delay);
            file.Dispose();
            try
            {
                await send;
            }
            catch (ObjectDisposedException)
            {
                refused++;
                continue;
            }

            using SafeFileHandle received = await pair.Right.ReceiveFdAsync();
            Assert.Equal($"file {i}", Descriptors.ReadAll(received));
            delivered++;
        }

        await stop.CancelAsync();
        await thief;
        output.WriteLine($"delivered {delivered}, refused with ObjectDisposedException {refused}");
        Assert.Equal(0, pair.Right.Available);
        DescriptorSnapshot.AssertBackTo(baseline);
    }

    private static async Task<bool> Completes(Task task, TimeSpan timeout) =>
        await Task.WhenAny(task, Task.Delay(timeout)) == task;
}
