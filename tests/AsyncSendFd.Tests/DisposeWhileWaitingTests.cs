using System.Net.Sockets;
using System.Runtime.InteropServices;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;
using Xunit.Abstractions;
using static AsyncSendFd.Tests.Support.Timeouts;

namespace AsyncSendFd.Tests;

/// <summary>
/// Disposing the socket under a waiting operation ends the wait promptly with ObjectDisposedException,
/// OperationCanceledException or SocketException, and Dispose itself returns. The observed exception is logged.
/// </summary>
public class DisposeWhileWaitingTests(ITestOutputHelper output)
{
    private const byte Filler = 0xAA;

    [Fact]
    public async Task DisposingTheSocket_WhileReceiveFdAsyncWaits_EndsTheReceive()
    {
        using var pair = SocketPair.Create();
        Task<SafeFileHandle> pending = pair.Right.ReceiveFdAsync().AsTask();
        Assert.False(pending.IsCompleted);

        await DisposeAndAssertEnded(pair.Right, pending);
    }

    [Fact]
    public async Task DisposingTheSocket_WhileReceiveFdsAsyncAndReceiveSocketAsyncWait_EndsBoth()
    {
        using var pair = SocketPair.Create(SocketType.Seqpacket);
        Task<FdReceiveResult> fds = pair.Right.ReceiveFdsAsync(new byte[16], new SafeFileHandle?[4]).AsTask();
        Task<Socket> socket = pair.Right.ReceiveSocketAsync().AsTask(); // queued behind the first
        Assert.False(fds.IsCompleted);

        await DisposeAndAssertEnded(pair.Right, fds, socket);
    }

    [Fact]
    public async Task DisposingTheSocket_WhileAStalledSendFdAsyncWaits_EndsTheSend()
    {
        using var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile();
        SocketFill.FillSendBuffer(pair.Left, Filler);
        Task pending = pair.Left.SendFdAsync(file).AsTask();
        Task queued = pair.Left.SendFdsAsync(new byte[10], new SafeHandle[] { file }).AsTask();
        Assert.False(pending.IsCompleted);

        await DisposeAndAssertEnded(pair.Left, pending, queued);
        Assert.False(file.IsClosed);
    }

    [Fact]
    public async Task DisposingTheSocket_WhileAPartlyWrittenSendFdsAsyncWaits_EndsTheSend()
    {
        using var pair = SocketPair.Create();
        pair.Left.SendBufferSize = 4096;
        using SafeFileHandle file = Descriptors.TempFile();
        Task pending = pair.Left.SendFdsAsync(new byte[256 * 1024], new SafeHandle[] { file }).AsTask();
        Assert.False(pending.IsCompleted);

        await DisposeAndAssertEnded(pair.Left, pending);
    }

    [Fact]
    public async Task DisposingTheSocket_WhileABlockingReceiveFdWaits_EndsTheReceive()
    {
        using var pair = SocketPair.Create();
        Task<SafeFileHandle> pending = Task.Factory.StartNew(() => pair.Right.ReceiveFd(), TaskCreationOptions.LongRunning);
        await WaitUntilBlocked(pending);

        await DisposeAndAssertEnded(pair.Right, pending);
    }

    [Fact]
    public async Task DisposingTheSocket_WhileABlockingSendFdsWaits_EndsTheSend()
    {
        using var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile();
        SocketFill.FillSendBuffer(pair.Left, Filler);
        Task pending = Task.Factory.StartNew(() => pair.Left.SendFds(new byte[10], [file]), TaskCreationOptions.LongRunning);
        await WaitUntilBlocked(pending);

        await DisposeAndAssertEnded(pair.Left, pending);
    }

    private async Task DisposeAndAssertEnded(Socket socket, params Task[] pending)
    {
        // Dispose spins while the library holds a reference on the handle, so it must return too.
        await Task.Run(socket.Dispose).WaitAsync(Guard);
        foreach (Task task in pending)
        {
            Exception? e = await Record.ExceptionAsync(() => task.WaitAsync(Guard));
            output.WriteLine($"observed: {e?.GetType().FullName ?? "no exception"}: {e?.Message}");
            Assert.NotNull(e);
            Assert.IsNotType<TimeoutException>(e);
            Assert.True(
                e is ObjectDisposedException or OperationCanceledException or SocketException,
                $"unexpected {e}");
        }
    }

    /// <summary>A blocking call cannot be observed to block; a short grace period only makes the test meaningful, not correct.</summary>
    private static async Task WaitUntilBlocked(Task pending)
    {
        await Task.Delay(50);
        Assert.False(pending.IsCompleted);
    }
}
