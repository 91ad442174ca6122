using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;
using Xunit.Abstractions;

namespace AsyncSendFd.Tests.Rules.NoThreadWaits;

/// <summary>
/// A send from an unconnected datagram socket to a destination whose queue is full waits without spinning and
/// resumes soon after the destination drains. Linux reports such a socket writable whatever the destination holds,
/// so the old monitor woke it at once, sendmsg said EAGAIN, and round it went at 1.5 cores.
/// </summary>
[Collection(DescriptorsCollection.Name)] // measures the process's CPU time: nothing else may run
public sealed class DatagramDestinationTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Measured = TimeSpan.FromSeconds(1);
    private readonly string _directory = Directory.CreateTempSubdirectory("asyncsendfd-dgram-").FullName;

    [Fact]
    public async Task SendFdsToAsync_ToAFullDestination_CostsUnderFivePercentOfACore_AndResumesWhenItDrains()
    {
        using Destination destination = Destination.Full(Path.Combine(_directory, "async.sock"));
        using var sender = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        using SafeFileHandle file = Descriptors.TempFile();

        TimeSpan idle = IdleCpuTime();
        Task send = null!;
        TimeSpan stalled = CpuTimeOver(Measured, () => send = sender.SendFdsToAsync(new byte[] { 1 }, new SafeHandle[] { file }, destination.EndPoint).AsTask());
        Assert.False(send.IsCompleted);

        var watch = Stopwatch.StartNew();
        destination.ReceiveOne();
        await send.WaitAsync(TimeSpan.FromSeconds(5));
        output.WriteLine($"CPU over {Measured.TotalSeconds} s: idle {idle.TotalMilliseconds:0} ms, stalled {stalled.TotalMilliseconds:0} ms; resumed {watch.ElapsedMilliseconds} ms after the drain");

        Assert.True(stalled - idle < Measured * 0.05, $"a stalled sender used {stalled.TotalMilliseconds:0} ms of CPU in {Measured.TotalMilliseconds} ms (idle: {idle.TotalMilliseconds:0} ms)");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"resumed only {watch.ElapsedMilliseconds} ms after the destination drained");
    }

    [Fact]
    public async Task BlockingSendFdsTo_ToAFullDestination_CostsUnderFivePercentOfACore_AndHonoursTheSendTimeout()
    {
        using Destination destination = Destination.Full(Path.Combine(_directory, "blocking.sock"));
        using var sender = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified) { SendTimeout = 1500 };
        using SafeFileHandle file = Descriptors.TempFile();

        TimeSpan idle = IdleCpuTime();
        Task send = null!;
        TimeSpan stalled = CpuTimeOver(Measured, () => send = Task.Factory.StartNew(
            () => sender.SendFdsTo([1], [file], destination.EndPoint), TaskCreationOptions.LongRunning));

        SocketException timedOut = await Assert.ThrowsAsync<SocketException>(() => send.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(SocketError.TimedOut, timedOut.SocketErrorCode);
        Assert.True(stalled - idle < Measured * 0.05, $"a stalled sender used {stalled.TotalMilliseconds:0} ms of CPU in {Measured.TotalMilliseconds} ms (idle: {idle.TotalMilliseconds:0} ms)");
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>
    /// The process's CPU time over <see cref="Measured"/> with nothing started, once the work earlier tests left
    /// behind (finalizers, background compilation) has died down: waited for, up to 10 s, not assumed.
    /// </summary>
    private static TimeSpan IdleCpuTime()
    {
        var settling = Stopwatch.StartNew();
        while (CpuTimeOver(TimeSpan.FromMilliseconds(250), () => { }) > TimeSpan.FromMilliseconds(10) && settling.Elapsed < TimeSpan.FromSeconds(10))
        {
        }

        return CpuTimeOver(Measured, () => { });
    }

    private static TimeSpan CpuTimeOver(TimeSpan period, Action start)
    {
        using var process = Process.GetCurrentProcess();
        TimeSpan before = process.TotalProcessorTime;
        start();
        Thread.Sleep(period);
        process.Refresh();
        return process.TotalProcessorTime - before;
    }

    /// <summary>A bound datagram socket that nobody reads, filled until the kernel refuses more.</summary>
    private sealed class Destination : IDisposable
    {
        private readonly Socket _socket;

        private Destination(Socket socket, UnixDomainSocketEndPoint endPoint)
        {
            _socket = socket;
            EndPoint = endPoint;
        }

        public UnixDomainSocketEndPoint EndPoint { get; }

        public static Destination Full(string path)
        {
            var endPoint = new UnixDomainSocketEndPoint(path);
            var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            socket.Bind(endPoint);
            using var filler = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified) { Blocking = false };
            try
            {
                while (true)
                {
                    filler.SendTo(new byte[16], endPoint);
                }
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.WouldBlock)
            {
                // The destination's queue is full.
            }

            return new Destination(socket, endPoint);
        }

        public void ReceiveOne() => _ = _socket.Receive(new byte[64]);

        public void Dispose() => _socket.Dispose();
    }
}
