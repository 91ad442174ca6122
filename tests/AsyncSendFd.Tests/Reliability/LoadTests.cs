using System.Runtime.InteropServices;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;
using Xunit.Abstractions;

namespace AsyncSendFd.Tests.Reliability;

/// <summary>Many sockets passing descriptors at once: everything delivered, nothing left open.</summary>
[Collection(DescriptorsCollection.Name)]
public class LoadTests(ITestOutputHelper output)
{
    [Fact]
    public async Task AThousandSocketPairsPassingDescriptorsConcurrently_AllDelivered_CountBackToBaseline()
    {
        const int Pairs = 1000;
        const int PerPair = 5;
        (ulong soft, ulong hard) = TestNative.GetNoFileLimit();
        output.WriteLine($"RLIMIT_NOFILE soft {soft}, hard {hard}");

        // 2 descriptors per pair, up to PerPair received per pair held at once, plus headroom.
        using NoFileLimit raised = NoFileLimit.AtLeast((ulong)((Pairs * (2 + PerPair)) + 1024));
        Assert.True(TestNative.GetNoFileLimit().Soft >= (ulong)(Pairs * (2 + PerPair)), "RLIMIT_NOFILE hard limit too low for this test");

        using SafeFileHandle file = Descriptors.TempFile("load");
        string target = Descriptors.Target(file);
        var baseline = DescriptorSnapshot.Take();
        var pairs = Enumerable.Range(0, Pairs).Select(_ => SocketPair.Create()).ToArray();
        var started = DateTime.UtcNow;
        int delivered = 0;
        try
        {
            Task[] work = pairs.Select(async (pair, index) =>
            {
                Task send = Task.Run(async () =>
                {
                    for (int i = 0; i < PerPair; i++)
                    {
                        await pair.Left.SendFdsAsync(new byte[] { (byte)i }, new SafeHandle[] { file });
                    }
                });
                var data = new byte[1];
                var slots = new SafeFileHandle?[1];
                for (int i = 0; i < PerPair; i++)
                {
                    FdReceiveResult result = await pair.Right.ReceiveFdsAsync(data, slots);
                    Assert.Equal(new FdReceiveResult(1, 1), result);
                    Assert.Equal((byte)i, data[0]);
                    Assert.Equal(target, Descriptors.Target(slots[0]!));
                    slots[0]!.Dispose();
                    Interlocked.Increment(ref delivered);
                }

                await send;
            }).ToArray();

            Task all = Task.WhenAll(work);
            Assert.True(await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(60))) == all, $"timed out with {delivered} delivered");
            await all;
        }
        finally
        {
            foreach (SocketPair pair in pairs)
            {
                pair.Dispose();
            }
        }

        output.WriteLine($"{delivered} descriptors over {Pairs} pairs in {(DateTime.UtcNow - started).TotalMilliseconds:F0} ms");
        Assert.Equal(Pairs * PerPair, delivered);
        DescriptorSnapshot.AssertBackTo(baseline);
    }
}
