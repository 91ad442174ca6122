using System.Runtime.InteropServices;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;
using static AsyncSendFd.Tests.Support.Timeouts;

namespace AsyncSendFd.Tests.Rules.NoThreadWaits;

/// <summary>
/// A receive and a send waiting on one socket at once share one epoll registration, which an event disarms
/// whole: the engine must arm the direction still waited for again, or that call would never wake.
/// </summary>
public sealed class TwoDirectionTests
{
    [Fact]
    public async Task ReceiveAndStalledSend_OnOneSocket_EachWakesForItsOwnEvent()
    {
        using var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile();
        int filler = SocketFill.FillSendBuffer(pair.Left, 0xAA);
        Task<SafeFileHandle> receive = pair.Left.ReceiveFdAsync().AsTask();
        Task send = pair.Left.SendFdAsync(file).AsTask();
        await Task.Delay(50);
        Assert.False(receive.IsCompleted);
        Assert.False(send.IsCompleted);

        pair.Right.SendFd(file); // readable: the receive wakes, the send must stay armed
        using (SafeFileHandle received = await receive.WaitAsync(Guard))
        {
            Assert.Equal(Descriptors.Target(file), Descriptors.Target(received));
        }

        Assert.False(send.IsCompleted);
        SocketFill.DrainFiller(pair.Right, filler, 0xAA);
        await send.WaitAsync(Guard);
        pair.Right.ReceiveFd().Dispose();
    }

    [Fact]
    public async Task CancelingTheReceive_LeavesTheStalledSendOnTheSameSocketWaiting_UntilItCanGo()
    {
        using var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile();
        int filler = SocketFill.FillSendBuffer(pair.Left, 0xAA);
        using var cancel = new CancellationTokenSource();
        Task<SafeFileHandle> receive = pair.Left.ReceiveFdAsync(cancel.Token).AsTask();
        Task send = pair.Left.SendFdsAsync(new byte[] { 7 }, new SafeHandle[] { file }).AsTask();
        await Task.Delay(50);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => receive.WaitAsync(Guard));
        pair.Right.SendFd(file); // the receive's stale arming fires; the send must be armed again, not lost
        await Task.Delay(50);
        Assert.False(send.IsCompleted);

        SocketFill.DrainFiller(pair.Right, filler, 0xAA);
        await send.WaitAsync(Guard);
        pair.Right.ReceiveFd().Dispose();
        (await pair.Left.ReceiveFdAsync().AsTask().WaitAsync(Guard)).Dispose();
    }
}
