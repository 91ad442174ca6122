using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Text;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;
using Xunit.Abstractions;
using static AsyncSendFd.Tests.Support.Timeouts;

namespace AsyncSendFd.Tests.Rules;

/// <summary>
/// README rule "Ownership": the caller keeps every handle it sends (never closed, never left referenced, read once
/// even while the send waits), and a received handle owns its descriptor, which is close-on-exec, so a child started
/// afterwards never inherits it.
/// </summary>
public class OwnershipTests
{
    [Theory]
    [InlineData(Api.Sync)]
    [InlineData(Api.Async)]
    public async Task SendFd_LeavesTheHandleOpen_AndDisposeStillClosesItAtOnce(Api api)
    {
        using var pair = SocketPair.Create();
        using var pipe = Pipe.Create();
        var handle = new TrackingHandle(pipe.Write);

        await pair.Left.SendFd(api, handle).WaitAsync(Guard);

        AssertOpenAndUnreferenced(handle);
        (await pair.Right.ReceiveFd(api).WaitAsync(Guard)).Dispose();
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
        Descriptors.DisposeAll(slots);
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
        Descriptors.DisposeAll(slots);
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

    // A sent handle is referenced for the length of the call, and read once.

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

    // A received descriptor is close-on-exec.

    [Fact]
    public void ReceivedDescriptors_AreCloseOnExec()
    {
        using var pair = SocketPair.Create();
        using var pipe = Pipe.Create();
        ClearCloseOnExec(pipe.Write);
        Assert.False(Descriptors.IsCloseOnExec(pipe.Write));

        pair.Left.SendFds("x"u8, [pipe.Write, pipe.Write, pipe.Write]);
        var slots = new SafeFileHandle?[3];
        pair.Right.ReceiveFds(new byte[1], slots);
        try
        {
            Assert.All(slots, slot => Assert.True(Descriptors.IsCloseOnExec(slot!)));
        }
        finally
        {
            Descriptors.DisposeAll(slots);
        }

        pair.Left.SendFd(pipe.Write);
        using SafeFileHandle one = pair.Right.ReceiveFd();
        Assert.True(Descriptors.IsCloseOnExec(one));
    }

    [Fact]
    public async Task ReceivedDescriptors_AreCloseOnExec_Async()
    {
        using var pair = SocketPair.Create();
        using var pipe = Pipe.Create();
        ClearCloseOnExec(pipe.Write);

        await pair.Left.SendFdAsync(pipe.Write);
        using SafeFileHandle one = await pair.Right.ReceiveFdAsync().AsTask().WaitAsync(Guard);
        Assert.True(Descriptors.IsCloseOnExec(one));

        using var transported = SocketPair.Create();
        ClearCloseOnExec(transported.Left.SafeHandle);
        await pair.Left.SendSocketAsync(transported.Left);
        using Socket socket = await pair.Right.ReceiveSocketAsync().AsTask().WaitAsync(Guard);
        Assert.True(Descriptors.IsCloseOnExec(socket.SafeHandle));
    }

    [SupportedOSPlatform("linux")] // the child lists /proc/self/fd
    [Trait("Category", "Python")]
    [LinuxFact]
    public async Task DescriptorsReceivedByEveryApi_AreNotInheritedByAChildStartedAfterwards()
    {
        using var pair = SocketPair.Create();
        using var other = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile("secret");
        string fileTarget = Descriptors.Target(file);
        var received = new List<SafeHandle>();
        var sockets = new List<Socket>(); // a Socket's finalizer closes its handle: keep the owners alive
        try
        {
            pair.Left.SendFd(file);
            received.Add(pair.Right.ReceiveFd());
            await pair.Left.SendFdAsync(file);
            received.Add(await pair.Right.ReceiveFdAsync());

            pair.Left.SendFds("m"u8, [file, file, file]);
            var slots = new SafeFileHandle?[3];
            pair.Right.ReceiveFds(new byte[1], slots);
            received.AddRange(slots!);
            await pair.Left.SendFdsAsync(new byte[1], new SafeHandle[] { file, file });
            var asyncSlots = new SafeFileHandle?[2];
            await pair.Right.ReceiveFdsAsync(new byte[1], asyncSlots);
            received.AddRange(asyncSlots!);

            pair.Left.SendSocket(other.Left);
            Socket socket = pair.Right.ReceiveSocket();
            sockets.Add(socket);
            received.Add(socket.SafeHandle);
            await pair.Left.SendSocketAsync(other.Right);
            Socket socketAsync = await pair.Right.ReceiveSocketAsync();
            sockets.Add(socketAsync);
            received.Add(socketAsync.SafeHandle);

            Assert.All(received, h => Assert.True(Descriptors.IsCloseOnExec(h)));
            var parent = received.ToDictionary(h => (int)h.DangerousGetHandle(), Descriptors.Target);
            Assert.Contains(fileTarget, parent.Values);

            Dictionary<int, string> child = ChildDescriptors();
            string listing = string.Join(", ", child.Select(p => $"{p.Key}->{p.Value}"));

            // The child may reuse a received number for a descriptor of its own; what must never appear is the
            // received open file description itself (same target), under that number or any other.
            Assert.NotEmpty(child);
            Assert.False(parent.Any(p => child.TryGetValue(p.Key, out string? target) && target == p.Value), $"inherited by number: {listing}");
            Assert.False(child.Values.Any(parent.ContainsValue), $"a received descriptor's target is open in the child: {listing}");
        }
        finally
        {
            foreach (Socket socket in sockets)
            {
                socket.Dispose();
            }

            foreach (SafeHandle handle in received)
            {
                handle.Dispose();
            }
        }
    }

    /// <summary>Starts python3 (required) and returns its open descriptors and their targets.</summary>
    private static Dictionary<int, string> ChildDescriptors()
    {
        var start = new ProcessStartInfo(RawSendmsgPeer.FindPython3()) { RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("""
            import os
            for fd in sorted(int(n) for n in os.listdir('/proc/self/fd')):
                try:
                    print(fd, os.readlink('/proc/self/fd/%d' % fd))
                except OSError:
                    print(fd, '?')
            """);
        using Process process = Process.Start(start)!;
        string text = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)));
        Assert.Equal(0, process.ExitCode);
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' ', 2))
            .ToDictionary(parts => int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture), parts => parts[1]);
    }

    private static unsafe void ClearCloseOnExec(SafeHandle handle)
    {
        int fd = (int)handle.DangerousGetHandle();
        Assert.Equal(0, AsyncSendFd.Native.Interop.Unix.LibC.fcntl(fd, TestLibC.F_SETFD, 0));
    }
}

/// <summary>Disposing a handle while it is being sent, counted: the file is delivered or ObjectDisposedException says it was not.</summary>
[Collection(DescriptorsCollection.Name)]
public class OwnershipDescriptorCountTests(ITestOutputHelper output)
{
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
}
