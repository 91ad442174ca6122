using System.Runtime.InteropServices;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;
using static AsyncSendFd.Tests.Support.Timeouts;

namespace AsyncSendFd.Tests.Rules.NoThreadWaits;

/// <summary>Waiting for buffer space holds no thread: many stalled senders complete on a starved thread pool.</summary>
[Collection(ThreadPoolCollection.Name)]
public class BackpressureTests
{
    private const byte Filler = 0xAA;

    [Fact]
    public async Task StalledSendFdsAsync_On64FullSockets_HoldNoThread_AndAllCompleteOnACappedThreadPool()
    {
        const int Pairs = 64;
        const int MessageLength = 1000;
        ThreadPool.GetMaxThreads(out int maxWorkers, out int maxIo);
        int cap = Math.Max(4, Environment.ProcessorCount);
        SocketPair[] pairs = [.. Enumerable.Range(0, Pairs).Select(_ => SocketPair.Create())];
        using var pipe = Pipe.Create();
        try
        {
            Assert.True(ThreadPool.SetMaxThreads(cap, maxIo), $"could not cap the pool at {cap} workers");
            int[] filler = [.. pairs.Select(p => SocketFill.FillSendBuffer(p.Left, Filler))];

            Task[] sends = new Task[Pairs];
            for (int i = 0; i < Pairs; i++)
            {
                ValueTask send = pairs[i].Left.SendFdsAsync(Message(i, MessageLength), new SafeHandle[] { pipe.Write });
                Assert.False(send.IsCompleted, $"send {i} did not stall");
                sends[i] = send.AsTask();
            }

            // 64 stalled sends on a pool of `cap` workers: the pool still runs other work at once.
            Assert.Equal(42, await Task.Run(() => 42).WaitAsync(Guard));
            Assert.DoesNotContain(sends, s => s.IsCompleted);

            for (int i = 0; i < Pairs; i++)
            {
                SocketFill.DrainFiller(pairs[i].Right, filler[i], Filler);
            }

            await Task.WhenAll(sends).WaitAsync(Guard);

            var data = new byte[MessageLength * 2];
            var slots = new SafeFileHandle?[2];
            for (int i = 0; i < Pairs; i++)
            {
                FdReceiveResult result = pairs[i].Right.ReceiveFds(data, slots);
                Assert.Equal(new FdReceiveResult(MessageLength, 1), result);
                Assert.Equal(Message(i, MessageLength), data[..MessageLength]);
                Descriptors.DisposeAll(slots);
                Assert.False(Pipe.IsReadable(pairs[i].Right));
            }
        }
        finally
        {
            ThreadPool.SetMaxThreads(maxWorkers, maxIo);
            Array.ForEach(pairs, p => p.Dispose());
        }
    }

    [Fact]
    public async Task StalledSendsQueuedOnOneSocket_HoldNoThread_AndCompleteInOrder()
    {
        const int Sends = 200;
        ThreadPool.GetMaxThreads(out int maxWorkers, out int maxIo);
        int cap = Math.Max(4, Environment.ProcessorCount);
        using var pair = SocketPair.Create();
        using var pipe = Pipe.Create();
        try
        {
            Assert.True(ThreadPool.SetMaxThreads(cap, maxIo));
            int filler = SocketFill.FillSendBuffer(pair.Left, Filler);
            Task[] sends = [.. Enumerable.Range(0, Sends).Select(i => pair.Left.SendFdsAsync(Message(i, 10), new SafeHandle[] { pipe.Write }).AsTask())];
            Assert.DoesNotContain(sends, s => s.IsCompleted);
            Assert.Equal(42, await Task.Run(() => 42).WaitAsync(Guard));

            Task drain = Task.Run(() =>
            {
                SocketFill.DrainFiller(pair.Right, filler, Filler);
                var data = new byte[10];
                var slots = new SafeFileHandle?[2];
                for (int i = 0; i < Sends; i++)
                {
                    Assert.Equal(new FdReceiveResult(10, 1), pair.Right.ReceiveFds(data, slots));
                    Assert.Equal(Message(i, 10), data);
                    Descriptors.DisposeAll(slots);
                }
            });

            await Task.WhenAll(sends).WaitAsync(Guard);
            await drain.WaitAsync(Guard);
        }
        finally
        {
            ThreadPool.SetMaxThreads(maxWorkers, maxIo);
        }
    }

    private static byte[] Message(int index, int length)
    {
        var message = new byte[length];
        message.AsSpan().Fill((byte)(index + 1));
        message[0] = (byte)index;
        return message;
    }
}
