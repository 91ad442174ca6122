using System.Net.Sockets;
using System.Runtime.InteropServices;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;
using static AsyncSendFd.Tests.Support.Timeouts;

namespace AsyncSendFd.Tests;

/// <summary>The caller keeps ownership of every handle it sends: never closed, never left referenced.</summary>
public class OwnershipTests
{
    [Fact]
    public void SendFd_LeavesTheHandleOpen_AndDisposeStillClosesItAtOnce()
    {
        using var pair = SocketPair.Create();
        using var pipe = Pipe.Create();
        var handle = new TrackingHandle(pipe.Write);

        pair.Left.SendFd(handle);

        AssertOpenAndUnreferenced(handle);
        pair.Right.ReceiveFd().Dispose();
    }

    [Fact]
    public async Task SendFdAsync_LeavesTheHandleOpen_AndDisposeStillClosesItAtOnce()
    {
        using var pair = SocketPair.Create();
        using var pipe = Pipe.Create();
        var handle = new TrackingHandle(pipe.Write);

        await pair.Left.SendFdAsync(handle);

        AssertOpenAndUnreferenced(handle);
        (await pair.Right.ReceiveFdAsync().AsTask().WaitAsync(Guard)).Dispose();
    }

    [Fact]
    public void SendFds_LeavesEveryHandleOpen_AndDisposeStillClosesThemAtOnce()
    {
        using var pair = SocketPair.Create();
        using var pipe = Pipe.Create();
        TrackingHandle[] handles = [.. Enumerable.Range(0, 5).Select(_ => new TrackingHandle(pipe.Write))];

        pair.Left.SendFds("five"u8, [.. handles]);

        var slots = new SafeFileHandle?[5];
        pair.Right.ReceiveFds(new byte[4], slots);
        SendReceiveTests.DisposeAll(slots);
        Assert.All(handles, AssertOpenAndUnreferenced);
    }

    [Fact]
    public async Task SendFdsAsync_WithTheSameHandleManyTimes_LeavesItOpenAndBalanced()
    {
        using var pair = SocketPair.Create();
        using var pipe = Pipe.Create();
        var handle = new TrackingHandle(pipe.Write);

        await pair.Left.SendFdsAsync(new byte[] { 1 }, Enumerable.Repeat<SafeHandle>(handle, SocketFdExtensions.MaxFdsPerMessage).ToArray());

        var slots = new SafeFileHandle?[SocketFdExtensions.MaxFdsPerMessage];
        await pair.Right.ReceiveFdsAsync(new byte[1], slots).AsTask().WaitAsync(Guard);
        SendReceiveTests.DisposeAll(slots);
        AssertOpenAndUnreferenced(handle);
    }

    [Fact]
    public async Task SendSocket_LeavesTheSentSocketOpenAndUsable()
    {
        using var pair = SocketPair.Create();
        using var other = SocketPair.Create();

        pair.Left.SendSocket(other.Left);
        await pair.Left.SendSocketAsync(other.Left);
        pair.Right.ReceiveSocket().Dispose();
        (await pair.Right.ReceiveSocketAsync().AsTask().WaitAsync(Guard)).Dispose();

        Assert.False(other.Left.SafeHandle.IsClosed);
        Assert.Equal(2, other.Left.Send("ok"u8));
        var buffer = new byte[2];
        Assert.Equal(2, other.Right.Receive(buffer));
    }

    [Fact]
    public async Task FailedSends_LeaveTheHandleOpenAndUnreferenced()
    {
        using var pair = SocketPair.Create();
        using var pipe = Pipe.Create();
        var handle = new TrackingHandle(pipe.Write);
        pair.Right.Dispose();

        Assert.Throws<SocketException>(() => pair.Left.SendFd(handle));
        Assert.Throws<SocketException>(() => pair.Left.SendFds("x"u8, [handle, handle]));
        await Assert.ThrowsAsync<SocketException>(async () => await pair.Left.SendFdAsync(handle));
        await Assert.ThrowsAsync<SocketException>(async () => await pair.Left.SendFdsAsync(new byte[1], new SafeHandle[] { handle }));

        AssertOpenAndUnreferenced(handle);
    }

    [Fact]
    public void ReceivedHandles_OwnTheirDescriptors()
    {
        using var pair = SocketPair.Create();
        using var pipe = Pipe.Create();

        pair.Left.SendFd(pipe.Write);
        SafeFileHandle received = pair.Right.ReceiveFd();
        pipe.Write.Dispose();
        Assert.False(pipe.AllWritersClosed());

        received.Dispose();
        Assert.True(pipe.AllWritersClosed());
    }

    private static void AssertOpenAndUnreferenced(TrackingHandle handle)
    {
        Assert.False(handle.IsClosed);
        Assert.Equal(0, handle.Releases);
        Pipe.WriteAll(handle, "still open"u8);

        // A reference the library forgot to release would keep Dispose from closing the descriptor.
        handle.Dispose();
        Assert.Equal(1, handle.Releases);
    }
}
