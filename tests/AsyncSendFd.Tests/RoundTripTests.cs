using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Tests;

public class RoundTripTests
{
    [Fact]
    public void SendFd_ThenReceiveFd_DeliversTheSameOpenFile()
    {
        using var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile("hello");

        pair.Left.SendFd(file);
        using SafeFileHandle received = pair.Right.ReceiveFd();

        Assert.NotEqual(file.DangerousGetHandle(), received.DangerousGetHandle());
        Assert.Equal(Descriptors.Target(file), Descriptors.Target(received));
        Assert.Equal("hello", Descriptors.ReadAll(received));
        Assert.False(file.IsClosed);
    }

    [Fact]
    public async Task SendFdAsync_ThenReceiveFdAsync_DeliversTheSameOpenFile()
    {
        using var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile("async");

        ValueTask<SafeFileHandle> receive = pair.Right.ReceiveFdAsync();
        await pair.Left.SendFdAsync(file);
        using SafeFileHandle received = await receive;

        Assert.Equal("async", Descriptors.ReadAll(received));
        Assert.True(Descriptors.IsCloseOnExec(received));
    }
}
