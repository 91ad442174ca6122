using System.Diagnostics.Metrics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using AsyncSendFd.Engine;
using AsyncSendFd.Syscalls;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;
using static AsyncSendFd.Tests.Support.Timeouts;
using Darwin = AsyncSendFd.Native.Interop.Darwin;
using Linux = AsyncSendFd.Native.Interop.Linux;

namespace AsyncSendFd.Tests.Features;

/// <summary>
/// The <c>AsyncSendFd</c> meter, read with a <see cref="MeterListener"/> as an exporter reads it, after known work:
/// refusals by reason with the descriptors they closed, the engine's starts and failed starts, the instruments'
/// names and units. Each test counts only what its own flow measured (<see cref="MeterRecorder.OfThisTest"/>).
/// </summary>
public sealed class MetricsTests
{
    private const string Meter = "AsyncSendFd";

    [Theory]
    [InlineData(Api.Sync)]
    [InlineData(Api.Async)]
    public async Task ATruncatedDatagram_ShowsOneRefusal_DataTruncated_AndItsDescriptorsDiscarded(Api api)
    {
        using MeterRecorder metrics = MeterRecorder.OfThisTest(Meter);
        using var pair = SocketPair.Create(SocketType.Dgram);
        using SafeFileHandle file = Descriptors.TempFile();
        pair.Left.SendFds("0123456789"u8, [file, file, file]);

        await Assert.ThrowsAnyAsync<IOException>(() => pair.Right.ReceiveFds(api, new byte[9], new SafeFileHandle?[8]));

        MeterRecorder.Recorded refusal = Assert.Single(metrics.Of("asyncsendfd.messages.refused"));
        Assert.Equal((1.0, "data_truncated"), (refusal.Value, refusal.Tag("reason")));
        Assert.Equal(3, metrics.Sum("asyncsendfd.descriptors.discarded", "reason", "data_truncated"));
    }

    [Fact]
    public void MoreDescriptorsThanSlots_ShowsARefusal_TooManyDescriptors()
    {
        using MeterRecorder metrics = MeterRecorder.OfThisTest(Meter);
        using var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile();
        pair.Left.SendFds("five"u8, [file, file, file, file, file]);

        Assert.ThrowsAny<IOException>(() => pair.Right.ReceiveFds(new byte[16], new SafeFileHandle?[2]));

        Assert.Equal(1, metrics.Sum("asyncsendfd.messages.refused", "reason", "too_many_descriptors"));
        Assert.Equal(5, metrics.Sum("asyncsendfd.descriptors.discarded", "reason", "too_many_descriptors"));
    }

    [Theory]
    [InlineData(SocketType.Stream)]
    [InlineData(SocketType.Dgram)]
    public void ReceiveFd_OfAMessageWithoutDescriptor_ShowsARefusal_NoDescriptor(SocketType type)
    {
        using MeterRecorder metrics = MeterRecorder.OfThisTest(Meter);
        using var pair = SocketPair.Create(type);
        pair.Left.SendFds(new byte[4], []);

        Assert.ThrowsAny<IOException>(() => pair.Right.ReceiveFd());

        MeterRecorder.Recorded refusal = Assert.Single(metrics.Of("asyncsendfd.messages.refused"));
        Assert.Equal("no_descriptor", refusal.Tag("reason"));
        Assert.Empty(metrics.Of("asyncsendfd.descriptors.discarded"));
    }

    [Fact]
    public void ReceiveFd_OfAnEmptyDatagram_ShowsARefusal_NoDescriptor()
    {
        using MeterRecorder metrics = MeterRecorder.OfThisTest(Meter);
        using var pair = SocketPair.Create(SocketType.Dgram);
        pair.Left.Send(Array.Empty<byte>());

        Assert.ThrowsAny<IOException>(() => pair.Right.ReceiveFd());

        Assert.Equal(1, metrics.Sum("asyncsendfd.messages.refused", "reason", "no_descriptor"));
    }

    [Fact]
    public void ReceiveFd_OfADescriptorOnNoDataByte_ShowsARefusal_NoDataByte()
    {
        using MeterRecorder metrics = MeterRecorder.OfThisTest(Meter);
        using var pair = SocketPair.Create(SocketType.Dgram);
        using SafeFileHandle file = Descriptors.TempFile();
        pair.Left.SendFds(ReadOnlySpan<byte>.Empty, [file]);

        Assert.ThrowsAny<IOException>(() => pair.Right.ReceiveFd());

        Assert.Equal(1, metrics.Sum("asyncsendfd.messages.refused", "reason", "no_data_byte"));
        Assert.Equal(1, metrics.Sum("asyncsendfd.descriptors.discarded", "reason", "no_data_byte"));
    }

    [Fact]
    public async Task ReceiveSocket_OfAFile_ShowsARefusal_NotASocket()
    {
        using MeterRecorder metrics = MeterRecorder.OfThisTest(Meter);
        using var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile();
        await pair.Left.SendFdAsync(file);

        await Assert.ThrowsAnyAsync<IOException>(async () => await pair.Right.ReceiveSocketAsync());

        Assert.Equal(1, metrics.Sum("asyncsendfd.messages.refused", "reason", "not_a_socket"));
        Assert.Equal(1, metrics.Sum("asyncsendfd.descriptors.discarded", "reason", "not_a_socket"));
    }

    [Fact]
    public async Task AFrameThatMiscountsItsDescriptors_ShowsARefusal_BadFrame()
    {
        using MeterRecorder metrics = MeterRecorder.OfThisTest(Meter);
        using var pair = SocketPair.Create();
        var receiver = new FdMessageChannel(pair.Right);
        using SafeFileHandle file = Descriptors.TempFile();
        byte[] header = new byte[8];
        BitConverter.TryWriteBytes(header.AsSpan(4, 4), 3); // announces three, one comes
        pair.Left.SendFds(header, [file]);

        await Assert.ThrowsAsync<IOException>(async () => await receiver.ReceiveAsync());

        Assert.Equal(1, metrics.Sum("asyncsendfd.messages.refused", "reason", "bad_frame"));
        Assert.Equal(1, metrics.Sum("asyncsendfd.descriptors.discarded", "reason", "bad_frame"));
    }

    [Fact]
    public async Task AFailedEngineStart_ThenAStart_AreCounted()
    {
        using MeterRecorder metrics = MeterRecorder.OfThisTest(Meter);
        int emfile = OperatingSystem.IsLinux() ? Linux.LibC.EMFILE : OperatingSystem.IsMacOS() ? Darwin.LibC.EMFILE : throw new PlatformNotSupportedException();
        int attempts = 0;
        var host = new EngineHost(
            (out IReadinessBackend? backend) =>
            {
                if (Interlocked.Increment(ref attempts) == 1)
                {
                    backend = null;
                    return new Errno(emfile);
                }

                return EngineHost.CreatePlatformBackend(out backend);
            },
            pollers: 3,
            alwaysInline: false);
        using var pair = SocketPair.Create();
        var readiness = new SocketReadiness(pair.Right.SafeHandle, host);
        int fd = (int)pair.Right.SafeHandle.DangerousGetHandle();

        Assert.Equal(emfile, (await readiness.WaitAsync(Interest.Read, fd, default).AsTask().WaitAsync(Guard)).Value);
        ValueTask<Errno> working = readiness.WaitAsync(Interest.Read, fd, default);
        pair.Left.Send([1]);
        Assert.Equal(Errno.Success, await working.AsTask().WaitAsync(Guard));

        MeterRecorder.Recorded failure = Assert.Single(metrics.Of("asyncsendfd.engine.failures"));
        Assert.Equal(("start", nameof(SocketError.TooManyOpenSockets)), (failure.Tag("stage"), failure.Tag("error.type")));
        Assert.Equal(1, metrics.Sum("asyncsendfd.engine.starts"));
    }

    [Fact]
    public async Task TheTally_LosesNoCount_WhenManyThreadsAddAtOnce()
    {
        var tally = new AsyncSendFd.Diagnostics.MessageTally();
        const int Threads = 8;
        const int AddsPerThread = 100_000;
        using var start = new Barrier(Threads);

        await Task.WhenAll(Enumerable.Range(0, Threads).Select(_ => Task.Factory.StartNew(
            () =>
            {
                start.SignalAndWait();
                for (int i = 0; i < AddsPerThread; i++)
                {
                    tally.Add(i % 3); // 0, 1 or 2 descriptors
                }
            },
            TaskCreationOptions.LongRunning)));

        Assert.Equal((Threads * AddsPerThread, Threads * (AddsPerThread / 3 * 3)), (tally.Messages, tally.Descriptors));
    }

    [Fact]
    public void EveryInstrument_HasAUnitADescriptionAndADottedLowerCaseName_AndTheMeterItsAssemblyVersion()
    {
        var published = new List<Instrument>();
        using (var listener = new MeterListener())
        {
            listener.InstrumentPublished = (instrument, _) =>
            {
                if (instrument.Meter.Name == Meter)
                {
                    published.Add(instrument);
                }
            };
            using var pair = SocketPair.Create();
            pair.Left.SendFds("x"u8, []); // the meter exists once the library measured something
            listener.Start();
        }

        Assert.Equal(
            [
                "asyncsendfd.descriptors.discarded", "asyncsendfd.descriptors.received", "asyncsendfd.descriptors.sent",
                "asyncsendfd.engine.failures", "asyncsendfd.engine.starts", "asyncsendfd.messages.received",
                "asyncsendfd.messages.refused", "asyncsendfd.messages.sent", "asyncsendfd.waits.active",
            ],
            published.Select(i => i.Name).Order(StringComparer.Ordinal));
        Assert.All(published, i => Assert.Matches("^asyncsendfd(\\.[a-z_]+)+$", i.Name));
        Assert.All(published, i => Assert.Matches("^\\{[a-z]+\\}$", i.Unit));
        Assert.All(published, i => Assert.False(string.IsNullOrWhiteSpace(i.Description)));
        Assert.Equal(typeof(SocketFdExtensions).Assembly.GetName().Version!.ToString(3), published[0].Meter.Version);
    }
}

/// <summary>
/// What the process as a whole measures, so these run alone: messages and descriptors sent and received (process-wide
/// tallies, read as a difference across known work), calls waiting now, the engine's own failure, and
/// <c>MSG_CTRUNC</c> under a descriptor limit.
/// </summary>
[Collection(DescriptorsCollection.Name)]
public sealed class ProcessMetricsTests
{
    private const string Meter = "AsyncSendFd";

    [Theory]
    [InlineData(Api.Sync)]
    [InlineData(Api.Async)]
    public async Task TenDescriptorsSentOneByOne_ShowTenSentAndTenReceived(Api api)
    {
        using MeterRecorder metrics = MeterRecorder.OfProcess(Meter);
        using var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile();
        Tallies before = Tallies.Observe(metrics);

        for (int i = 0; i < 10; i++)
        {
            await pair.Left.SendFd(api, file);
            (await pair.Right.ReceiveFd(api)).Dispose();
        }

        Assert.Equal(new Tallies(10, 10, 10, 10), Tallies.Observe(metrics) - before);
    }

    [Theory]
    [InlineData(SocketType.Stream)]
    [InlineData(SocketType.Dgram)]
    public async Task OneMessageOfTenDescriptors_AndOneOfBytesOnly_ShowTwoMessagesAndTenDescriptors(SocketType type)
    {
        using MeterRecorder metrics = MeterRecorder.OfProcess(Meter);
        using var pair = SocketPair.Create(type);
        using SafeFileHandle file = Descriptors.TempFile();
        var slots = new SafeFileHandle?[16];
        Tallies before = Tallies.Observe(metrics);

        await pair.Left.SendFdsAsync("ten"u8.ToArray(), Enumerable.Repeat<SafeHandle>(file, 10).ToArray());
        FdReceiveResult withDescriptors = await pair.Right.ReceiveFdsAsync(new byte[16], slots);
        pair.Left.SendFds("bytes"u8, []);
        FdReceiveResult bytesOnly = pair.Right.ReceiveFds(new byte[16], slots.AsSpan(10));
        foreach (SafeFileHandle? received in slots)
        {
            received?.Dispose();
        }

        Assert.Equal((3, 10, 5, 0), (withDescriptors.BytesReceived, withDescriptors.FdCount, bytesOnly.BytesReceived, bytesOnly.FdCount));
        Assert.Equal(new Tallies(2, 10, 2, 10), Tallies.Observe(metrics) - before);
    }

    [Fact]
    public async Task FourPipelinesAtOnce_ShowEveryDescriptor()
    {
        using MeterRecorder metrics = MeterRecorder.OfProcess(Meter);
        using SafeFileHandle file = Descriptors.TempFile();
        SocketPair[] pairs = [.. Enumerable.Range(0, 4).Select(_ => SocketPair.Create())];
        Tallies before = Tallies.Observe(metrics);

        await Task.WhenAll(pairs.SelectMany(pair => new[]
        {
            Task.Run(async () =>
            {
                for (int i = 0; i < 250; i++)
                {
                    await pair.Left.SendFdAsync(file);
                }
            }),
            Task.Run(async () =>
            {
                for (int i = 0; i < 250; i++)
                {
                    (await pair.Right.ReceiveFdAsync()).Dispose();
                }
            }),
        })).WaitAsync(Guard);
        foreach (SocketPair pair in pairs)
        {
            pair.Dispose();
        }

        Assert.Equal(new Tallies(1000, 1000, 1000, 1000), Tallies.Observe(metrics) - before);
    }

    [Fact]
    public async Task AReceiveThatWaited_IsCountedWhenItsMessageArrives_AndARefusedMessageIsNotCountedAsReceived()
    {
        using MeterRecorder metrics = MeterRecorder.OfProcess(Meter);
        using var pair = SocketPair.Create(SocketType.Dgram);
        using SafeFileHandle file = Descriptors.TempFile();
        var slots = new SafeFileHandle?[4];
        Tallies before = Tallies.Observe(metrics);

        ValueTask<FdReceiveResult> pending = pair.Right.ReceiveFdsAsync(new byte[8], slots);
        Assert.False(pending.IsCompleted, "precondition: the receive waits on the engine");
        await Task.Run(() => pair.Left.SendFds("abc"u8, [file, file, file]));
        FdReceiveResult result = await pending.AsTask().WaitAsync(Guard);
        foreach (SafeFileHandle? received in slots)
        {
            received?.Dispose();
        }

        pair.Left.SendFds("0123456789"u8, [file]);
        Assert.ThrowsAny<IOException>(() => pair.Right.ReceiveFds(new byte[9], slots)); // MSG_TRUNC

        Assert.Equal(3, result.FdCount);
        Assert.Equal(new Tallies(2, 4, 1, 3), Tallies.Observe(metrics) - before);
    }

    [Fact]
    public async Task WaitsActive_CountsWaitingReceivesAndSends_ByDirection_AndFallsBackWhenTheyEnd()
    {
        using MeterRecorder metrics = MeterRecorder.OfProcess(Meter);
        LibraryWarmup.StartEngine();
        (double receives, double sends) before = ObserveWaits(metrics);

        using var idle1 = SocketPair.Create();
        using var idle2 = SocketPair.Create();
        using var blocking = SocketPair.Create();
        using var stalled = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile();
        var receives = new List<Task>
        {
            idle1.Right.ReceiveFdAsync().AsTask(),
            idle2.Right.ReceiveFdAsync().AsTask(),
            Task.Run(() => blocking.Right.ReceiveFd()),
        };
        int filler = SocketFill.FillSendBuffer(stalled.Left, 0x5a);
        Task send = stalled.Left.SendFdAsync(file).AsTask();

        await Until(() => ObserveWaits(metrics) == (before.receives + 3, before.sends + 1), metrics);

        idle1.Left.SendFd(file);
        idle2.Left.SendFd(file);
        blocking.Left.SendFd(file);
        SocketFill.DrainFiller(stalled.Right, filler, 0x5a);
        await Task.WhenAll([.. receives, send]).WaitAsync(Guard);
        stalled.Right.ReceiveFd().Dispose();
        foreach (Task<SafeFileHandle> received in receives.Cast<Task<SafeFileHandle>>())
        {
            (await received).Dispose();
        }

        await Until(() => ObserveWaits(metrics) == before, metrics);
    }

    [LinuxFact]
    [SupportedOSPlatform("linux")] // drives the epoll backend's failure path
    public async Task AnEngineWhoseWaitFails_IsCountedAsAFailure_AtTheWaitStage()
    {
        using MeterRecorder metrics = MeterRecorder.OfProcess(Meter);
        using var failing = new FailsWhenToldBackend();
        var host = new EngineHost((out IReadinessBackend? backend) => { backend = failing; return Errno.Success; }, pollers: 3, alwaysInline: false);
        using var pair = SocketPair.Create();
        var readiness = new SocketReadiness(pair.Right.SafeHandle, host);

        ValueTask<Errno> waiting = readiness.WaitAsync(Interest.Read, (int)pair.Right.SafeHandle.DangerousGetHandle(), default);
        failing.FailNextWait(Linux.LibC.EINVAL);
        Errno outcome = await waiting.AsTask().WaitAsync(Guard);

        Assert.Equal(Linux.LibC.EINVAL, outcome.Value);
        MeterRecorder.Recorded failure = Assert.Single(metrics.Of("asyncsendfd.engine.failures"));
        Assert.Equal(("wait", nameof(SocketError.InvalidArgument)), (failure.Tag("stage"), failure.Tag("error.type")));
    }

    [LinuxFact]
    [SupportedOSPlatform("linux")] // the Linux kernel's MSG_CTRUNC at RLIMIT_NOFILE
    public void ControlDataTruncatedByTheKernel_ShowsARefusal_ControlTruncated()
    {
        using MeterRecorder metrics = MeterRecorder.OfProcess(Meter);
        using var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile();
        pair.Left.SendFds("x"u8, Enumerable.Repeat<SafeHandle>(file, SocketFdExtensions.MaxFdsPerMessage).ToArray());

        using (NoFileLimit.JustAboveHighestOpen(3))
        {
            Assert.ThrowsAny<IOException>(() => pair.Right.ReceiveFds(new byte[1], new SafeFileHandle?[SocketFdExtensions.MaxFdsPerMessage]));
        }

        MeterRecorder.Recorded refusal = Assert.Single(metrics.Of("asyncsendfd.messages.refused"));
        Assert.Equal("control_truncated", refusal.Tag("reason"));
        Assert.InRange(metrics.Sum("asyncsendfd.descriptors.discarded", "reason", "control_truncated"), 1, 3); // those the kernel installed
    }

    private static (double Receives, double Sends) ObserveWaits(MeterRecorder metrics)
    {
        metrics.Observe();
        return (metrics.Latest("asyncsendfd.waits.active", "direction", "receive"), metrics.Latest("asyncsendfd.waits.active", "direction", "send"));
    }

    /// <summary>Waits until <paramref name="condition"/> holds; the blocking receive arms its wait on its own thread, a moment later.</summary>
    private static async Task Until(Func<bool> condition, MeterRecorder metrics)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(watch.Elapsed < Guard, $"still {string.Join(", ", metrics.Of("asyncsendfd.waits.active").TakeLast(2).Select(r => $"{r.Tag("direction")}={r.Value}"))}");
            await Task.Delay(10);
        }
    }

    /// <summary>Arms everything, reports nothing, and fails its next wait when told to.</summary>
    private sealed class FailsWhenToldBackend : IReadinessBackend
    {
        private readonly SemaphoreSlim _fail = new(0);
        private int _errno;

        public bool EventDisarmsAllDirections => true;

        public void FailNextWait(int errno)
        {
            Volatile.Write(ref _errno, errno);
            _fail.Release();
        }

        public Errno Register(int fd, ulong token, Interest interest) => Errno.Success;

        public Errno Reregister(int fd, ulong token, Interest interest) => Errno.Success;

        public Errno Wait(Span<ReadinessEvent> events, int timeoutMilliseconds, out int count)
        {
            count = 0;
            return _fail.Wait(50) ? new Errno(Volatile.Read(ref _errno)) : Errno.Success;
        }

        public void Dispose() => _fail.Dispose();
    }

    /// <summary>The four tallies of messages and descriptors, sent and received, as the listener saw them.</summary>
    private readonly record struct Tallies(double MessagesSent, double DescriptorsSent, double MessagesReceived, double DescriptorsReceived)
    {
        public static Tallies Observe(MeterRecorder metrics) => new(
            metrics.ObserveNow("asyncsendfd.messages.sent"),
            metrics.ObserveNow("asyncsendfd.descriptors.sent"),
            metrics.ObserveNow("asyncsendfd.messages.received"),
            metrics.ObserveNow("asyncsendfd.descriptors.received"));

        public static Tallies operator -(Tallies after, Tallies before) => new(
            after.MessagesSent - before.MessagesSent,
            after.DescriptorsSent - before.DescriptorsSent,
            after.MessagesReceived - before.MessagesReceived,
            after.DescriptorsReceived - before.DescriptorsReceived);
    }
}
