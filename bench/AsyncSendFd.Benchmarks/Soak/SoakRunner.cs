using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using AsyncSendFd.Benchmarks.Workloads;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Benchmarks.Soak;

/// <summary>
/// <c>--soak N</c>: passes N descriptors through every API shape (blocking single, async single, 64-descriptor
/// batches, framed messages, socket transfer) across a few socket pairs at once, and prints the process's open
/// descriptors, managed heap and working set as it goes. A leak shows as a count that climbs.
/// </summary>
internal static class SoakRunner
{
    private const int Lanes = 4;

    public static int Run(long total)
    {
        using SafeFileHandle file = Descriptor.OpenDevNull();
        long perLane = total / Lanes;
        long passed = 0;

        // A warm-up loads the assemblies and starts the threads whose descriptors the runtime keeps.
        Task.WaitAll([.. Enumerable.Range(0, Lanes).Select(lane => Task.Run(() => RunLaneAsync(lane, file, 5_000, _ => { })))]);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var clock = Stopwatch.StartNew();
        Snapshot start = Snapshot.Take();
        Dictionary<string, string> openAtStart = OpenDescriptors();
        Console.WriteLine($"soak: {total:N0} descriptors over {Lanes} lanes; after warm-up: {start}");

        using var stop = new CancellationTokenSource();
        Task reporter = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromSeconds(5), CancellationToken.None);
                Console.WriteLine($"  {Interlocked.Read(ref passed),12:N0} passed, {clock.Elapsed.TotalSeconds,5:F0} s: {Snapshot.Take()}");
            }
        });

        Task[] lanes = [.. Enumerable.Range(0, Lanes).Select(lane => Task.Run(() => RunLaneAsync(lane, file, perLane, n => Interlocked.Add(ref passed, n))))];
        Task.WaitAll(lanes);
        TimeSpan elapsed = clock.Elapsed;
        stop.Cancel();
        reporter.Wait();

        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Snapshot end = Snapshot.Take();
        Console.WriteLine($"done: {passed:N0} descriptors in {elapsed.TotalSeconds:F1} s; end: {end}");
        // Once per process and whatever N is: the readiness engine's epoll descriptor (opened on the first wait) and
        // now and then one descriptor of the runtime's own. A leak grows with N; compare two sizes.
        bool flat = end.Descriptors <= start.Descriptors + 3;
        Console.WriteLine(flat ? "descriptor count flat" : $"descriptor count grew by {end.Descriptors - start.Descriptors}");
        foreach ((string fd, string target) in OpenDescriptors().Where(p => !openAtStart.ContainsKey(p.Key)))
        {
            Console.WriteLine($"  opened since the start: {fd} -> {target}");
        }
        return flat ? 0 : 1;
    }

    private static async Task RunLaneAsync(int lane, SafeFileHandle file, long count, Action<long> progress)
    {
        (Socket left, Socket right) = UnixSocketPair.Create();
        using (left)
        using (right)
        {
            var batch = Enumerable.Repeat<SafeHandle>(file, 64).ToArray();
            var slots = new SafeFileHandle?[64];
            var data = new byte[1];
            var sender = new FdMessageChannel(left);
            var receiver = new FdMessageChannel(right);
            long done = 0;
            long reported = 0;
            while (done < count)
            {
                switch ((lane + done) % 5)
                {
                    case 0:
                        left.SendFd(file);
                        right.ReceiveFd().Dispose();
                        done += 1;
                        break;
                    case 1:
                        await left.SendFdAsync(file);
                        (await right.ReceiveFdAsync()).Dispose();
                        done += 1;
                        break;
                    case 2:
                        await left.SendFdsAsync(data, batch);
                        FdReceiveResult result = await right.ReceiveFdsAsync(data, slots);
                        for (int i = 0; i < result.FdCount; i++)
                        {
                            slots[i]!.Dispose();
                        }

                        done += result.FdCount;
                        break;
                    case 3:
                        await sender.SendAsync(data, batch.AsMemory(0, 8));
                        using (FdMessage? message = await receiver.ReceiveAsync())
                        {
                            done += message!.FdCount;
                        }

                        break;
                    default:
                        await left.SendSocketAsync(left);
                        (await right.ReceiveSocketAsync()).Dispose();
                        done += 1;
                        break;
                }

                if (done - reported >= 4096)
                {
                    progress(done - reported);
                    reported = done;
                }
            }

            progress(done - reported);
        }
    }

    private static Dictionary<string, string> OpenDescriptors() =>
        Directory.GetFileSystemEntries("/proc/self/fd")
            .Select(e => (Fd: Path.GetFileName(e), Target: new FileInfo(e).LinkTarget))
            .Where(p => p.Target is not null) // the listing's own descriptor, closed by now
            .ToDictionary(p => p.Fd, p => p.Target!);

    private readonly record struct Snapshot(int Descriptors, long ManagedBytes, long WorkingSet)
    {
        public static Snapshot Take() => new(
            Directory.GetFileSystemEntries("/proc/self/fd").Length,
            GC.GetTotalMemory(forceFullCollection: false),
            Environment.WorkingSet);

        public override string ToString() =>
            $"{Descriptors} open descriptors, managed heap {ManagedBytes / 1024.0 / 1024:F1} MiB, working set {WorkingSet / 1024.0 / 1024:F1} MiB";
    }
}
