using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;
using Xunit.Abstractions;

namespace AsyncSendFd.Tests.Rules.Errors;

/// <summary>
/// Linux refuses a send with ETOOMANYREFS once the sender's user has more descriptors in flight than the sender's
/// RLIMIT_NOFILE, unless it holds CAP_SYS_RESOURCE or CAP_SYS_ADMIN (the kernel's too_many_unix_fds, net/unix).
/// The sender here is the library, on a dedicated thread that drops those two capabilities from its own effective
/// set (capabilities are per-thread, so the rest of the test host keeps them and the limit is never lowered).
/// The kernel counts in flight per user, not per process: another process of the same user with descriptors in flight
/// at the time (a chaos run started by hand, say) lowers what this sender gets to send and fails the range check.
/// </summary>
[Collection(DescriptorsCollection.Name)]
[SupportedOSPlatform("linux")] // the kernel's in-flight limit, capabilities, seqpacket
public class InFlightLimitTests(ITestOutputHelper output)
{
    private const int CapSysAdmin = 21;
    private const int CapSysResource = 24;
    private const int Etoomanyrefs = 109;

    [LinuxFact]
    public void SenderBeyondItsInFlightLimit_SendFdsThrowsSocketException_AndEverySuccessfulSendIsReceived()
    {
        using var pair = SocketPair.Create(SocketType.Seqpacket);
        pair.Left.SendBufferSize = 4 * 1024 * 1024; // fill the in-flight limit long before the buffer
        pair.Left.SendTimeout = 10_000;           // never block forever if the buffer fills anyway
        using SafeFileHandle file = TestNative.OpenDevNull();
        var baseline = DescriptorSnapshot.Take();
        ulong limit = TestNative.GetNoFileLimit().Soft;
        SafeHandle[] batch = Enumerable.Repeat<SafeHandle>(file, SocketFdExtensions.MaxFdsPerMessage).ToArray();
        int maxMessages = (int)(limit / (ulong)batch.Length) + 10;

        int sentMessages = 0;
        Exception? failure = null;
        bool dropped = false;
        var sender = new Thread(() =>
        {
            TestNative.DropEffectiveCapabilitiesOfThisThread(CapSysAdmin, CapSysResource);
            dropped = !TestNative.HasEffectiveCapability(CapSysAdmin) && !TestNative.HasEffectiveCapability(CapSysResource);
            try
            {
                for (; sentMessages < maxMessages; sentMessages++)
                {
                    pair.Left.SendFds([(byte)(sentMessages % 251)], batch);
                }
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        sender.Start();
        Assert.True(sender.Join(TimeSpan.FromSeconds(30)), "the sender hung");

        output.WriteLine($"RLIMIT_NOFILE {limit}; {sentMessages} messages ({sentMessages * batch.Length} descriptors) in flight; then {failure?.GetType().Name}: {failure?.Message}");
        Assert.True(dropped, "precondition: the sending thread must have dropped CAP_SYS_ADMIN and CAP_SYS_RESOURCE");
        SocketException refused = Assert.IsType<SocketException>(failure);
        output.WriteLine($"SocketErrorCode {refused.SocketErrorCode}, NativeErrorCode {refused.NativeErrorCode}, ErrorCode {refused.ErrorCode}");
        Assert.True(refused.NativeErrorCode == Etoomanyrefs || refused.Message.Contains("references", StringComparison.OrdinalIgnoreCase),
            $"the exception should name ETOOMANYREFS: {refused.NativeErrorCode} {refused.Message}");
        Assert.InRange((ulong)sentMessages * (ulong)batch.Length, limit - (ulong)batch.Length, limit + (ulong)batch.Length);

        // Nothing lost: every message the library reported as sent arrives with all of its descriptors.
        var slots = new SafeFileHandle?[SocketFdExtensions.MaxFdsPerMessage];
        var data = new byte[1];
        for (int i = 0; i < sentMessages; i++)
        {
            FdReceiveResult result = pair.Right.ReceiveFds(data, slots);
            Assert.Equal(new FdReceiveResult(1, batch.Length), result);
            Assert.Equal((byte)(i % 251), data[0]);
            Assert.Equal("/dev/null", Descriptors.Target(slots[0]!));
            for (int k = 0; k < result.FdCount; k++)
            {
                slots[k]!.Dispose();
                slots[k] = null;
            }
        }

        Assert.Equal(0, pair.Right.Available);

        // With the descriptors drained the same socket sends again.
        pair.Left.SendFds([42], batch.AsSpan(0, 1));
        Assert.Equal(new FdReceiveResult(1, 1), pair.Right.ReceiveFds(data, slots));
        slots[0]!.Dispose();
        DescriptorSnapshot.AssertBackTo(baseline);
    }
}
