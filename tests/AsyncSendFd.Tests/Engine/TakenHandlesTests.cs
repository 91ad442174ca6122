using System.Runtime.InteropServices;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;
using static AsyncSendFd.Tests.Support.Timeouts;

namespace AsyncSendFd.Tests.Engine;

/// <summary>
/// A send reads the caller's handle collection once. The old async path read it three times (reference, send,
/// release): a caller replacing an element while the send waited left one handle referenced for ever and
/// released another that was never referenced, which could close a descriptor under its owner.
/// </summary>
public sealed class TakenHandlesTests
{
    [Fact]
    public async Task ReplacingAnElement_WhileTheSendWaits_ChangesNeitherWhatIsSentNorTheReferences()
    {
        using var pair = SocketPair.Create();
        using SafeFileHandle original = Descriptors.TempFile("original");
        using SafeFileHandle replacement = Descriptors.TempFile("replacement");
        var first = new TrackingHandle(original);
        var second = new TrackingHandle(replacement);
        int filler = SocketFill.FillSendBuffer(pair.Left, 0xAA);
        var fds = new SafeHandle[] { first };

        Task send = pair.Left.SendFdsAsync(new byte[] { 1 }, fds).AsTask();
        await Task.Delay(50);
        Assert.False(send.IsCompleted);
        fds[0] = second;
        SocketFill.DrainFiller(pair.Right, filler, 0xAA);
        await send.WaitAsync(Guard);

        using SafeFileHandle received = pair.Right.ReceiveFd();
        Assert.Equal(Descriptors.Target(original), Descriptors.Target(received));

        // Each handle is back to the caller's one reference: disposing closes it at once, exactly once.
        first.Dispose();
        second.Dispose();
        Assert.Equal(1, first.Releases);
        Assert.Equal(1, second.Releases);
    }
}
