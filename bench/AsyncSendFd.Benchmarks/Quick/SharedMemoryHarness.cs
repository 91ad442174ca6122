using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using static AsyncSendFd.Benchmarks.Quick.SharedMemoryProtocol;

namespace AsyncSendFd.Benchmarks.Quick;

/// <summary>
/// The "shm" scenario (issue 19): a payload of 64 KiB to 64 MiB handed to another process that reads every byte,
/// (a) as bytes over <see cref="FdMessageChannel"/>, (b) as a sealed <see cref="MemoryFile"/> made for each message
/// (create, fill, seal, send; the worker checks, maps, reads, unmaps), and (c) as one memory file sealed against
/// shrinking and growing, mapped once by both sides and refilled for each message. Each message is timed from the
/// first byte written to the worker's checksum back, and the checksum is verified. One worker per socket buffer size;
/// the rounds of one payload size rotate through every variant at every buffer size, so that drift in the machine's
/// load hits them all alike.
/// </summary>
internal static class SharedMemoryHarness
{
    private const double SpeedupTarget = 4.0;
    private const int TargetFromSize = 16 << 20;
    private const double BufferIndependenceLimit = 1.15;
    private const double WarmupSeconds = 0.2;

    private static readonly int[] Sizes = [64 << 10, 1 << 20, 16 << 20, 64 << 20];
    private static readonly int[] DefaultBuffers = [0, 32 << 10, 4 << 20];
    private static readonly string[] VariantNames = ["bytes over FdMessageChannel", "sealed memory file", "memory file mapped once"];

    /// <summary>Runs the scenario and prints its tables.</summary>
    /// <returns>Targets passed and targets checked.</returns>
    public static (int Passed, int Checked) Run(string[] args, int rounds, double roundSeconds)
    {
        int[] buffers = BufferOption(args);
        Console.WriteLine();
        Console.WriteLine(Invariant(
            $"shm: a payload to another process that reads every byte; {rounds} rounds x {roundSeconds * 1000:0} ms per variant, buffer size and payload size, rotating order; socket buffers {string.Join(", ", buffers.Select(BufferName))}, one worker each"));

        // Seconds per message, per round: [(buffer, size)][variant][round].
        var results = new Dictionary<(int Buffer, int Size), double[][]>();
        var workers = new List<WorkerConnection>();
        try
        {
            workers.AddRange(buffers.Select(WorkerConnection.Start));
            foreach (int size in Sizes)
            {
                double[][][] measured = MeasureSizeAsync([.. workers], size, rounds, roundSeconds).GetAwaiter().GetResult();
                for (int b = 0; b < buffers.Length; b++)
                {
                    results[(buffers[b], size)] = measured[b];
                }
            }
        }
        finally
        {
            workers.ForEach(w => w.Dispose());
        }

        for (int b = 0; b < buffers.Length; b++)
        {
            PrintTable(buffers[b], workers[b].ActualBuffer, rounds, results);
        }

        if (OperatingSystem.IsLinux())
        {
            SharedMemoryPhases.Print(Sizes);
        }

        return PrintSummary(buffers, results);
    }

    /// <summary>Every variant at every buffer size for one payload size, in rounds that rotate through all of them.</summary>
    private static async Task<double[][][]> MeasureSizeAsync(WorkerConnection[] workers, int size, int rounds, double roundSeconds)
    {
        byte[] payload = GC.AllocateUninitializedArray<byte>(size, pinned: true);
        char[] modes = [Bytes, Sealed, Reused];
        var reused = new MemoryFile[workers.Length];
        var runs = new List<(int Worker, int Variant, char Mode, Func<int, Task> Run)>();
        try
        {
            for (int w = 0; w < workers.Length; w++)
            {
                WorkerConnection worker = workers[w];
                MemoryFile buffer = reused[w] = MemoryFile.Create(size);
                buffer.Seal(FileSeals.Shrink | FileSeals.Grow);
                await worker.ControlAsync(Reused, size, buffer.Handle).ConfigureAwait(false);
                runs.Add((w, 0, Bytes, count => worker.RunBytesAsync(payload, count)));
                runs.Add((w, 1, Sealed, count => worker.RunSealedAsync(size, count)));
                runs.Add((w, 2, Reused, count => worker.RunReusedAsync(buffer, count)));
            }

            int[] counts = new int[runs.Count];
            for (int r = 0; r < runs.Count; r++)
            {
                await workers[runs[r].Worker].ControlAsync(runs[r].Mode, size).ConfigureAwait(false);
                double perMessage = await WarmUpAsync(runs[r].Run).ConfigureAwait(false);
                counts[r] = Math.Max(1, (int)(roundSeconds / perMessage));
            }

            double[][][] seconds = [.. workers.Select(_ => modes.Select(_ => new double[rounds]).ToArray())];
            for (int round = 0; round < rounds; round++)
            {
                for (int i = 0; i < runs.Count; i++)
                {
                    int r = (round + i) % runs.Count;
                    (int w, int v, char mode, Func<int, Task> run) = runs[r];
                    await workers[w].ControlAsync(mode, size).ConfigureAwait(false);
                    long start = Stopwatch.GetTimestamp();
                    await run(counts[r]).ConfigureAwait(false);
                    seconds[w][v][round] = Stopwatch.GetElapsedTime(start).TotalSeconds / counts[r];
                }
            }

            return seconds;
        }
        finally
        {
            foreach (MemoryFile? buffer in reused)
            {
                buffer?.Dispose();
            }
        }
    }

    /// <summary>Runs a variant until tiered compilation has settled; returns its time per message.</summary>
    private static async Task<double> WarmUpAsync(Func<int, Task> variant)
    {
        var watch = Stopwatch.StartNew();
        int count = 1;
        double perMessage;
        do
        {
            long start = Stopwatch.GetTimestamp();
            await variant(count).ConfigureAwait(false);
            perMessage = Stopwatch.GetElapsedTime(start).TotalSeconds / count;
            count = Math.Min(count * 2, 1024);
        }
        while (watch.Elapsed.TotalSeconds < WarmupSeconds);

        return perMessage;
    }

    private static void PrintTable(int buffer, int actual, int rounds, Dictionary<(int, int), double[][]> results)
    {
        Console.WriteLine();
        Console.WriteLine(Invariant($"socket buffers {BufferName(buffer)} (SO_SNDBUF reads {actual} B); us per message, median of {rounds} rounds [min..max]; speed-up = bytes time / memory file time"));
        Console.WriteLine($"{"size",-8} {VariantNames[0],-30} {VariantNames[1],-30} {VariantNames[2],-30} {"sealed speed-up",-24} {"mapped-once speed-up",-24}");
        foreach (int size in Sizes)
        {
            double[][] s = results[(buffer, size)];
            Console.WriteLine(Invariant(
                $"{SizeName(size),-8} {Cell(s[0]),-30} {Cell(s[1]),-30} {Cell(s[2]),-30} {Ratio(s[0], s[1]),-24} {Ratio(s[0], s[2]),-24}"));
        }
    }

    private static (int Passed, int Checked) PrintSummary(int[] buffers, Dictionary<(int, int), double[][]> results)
    {
        int passed = 0;
        int checkedTargets = 0;
        Console.WriteLine();
        foreach (int buffer in buffers)
        {
            foreach (int size in Sizes.Where(s => s >= TargetFromSize))
            {
                double[][] s = results[(buffer, size)];
                double speedup = Median(Speedups(s[0], s[1]));
                double mappedOnce = Median(Speedups(s[0], s[2]));
                bool ok = speedup >= SpeedupTarget;
                checkedTargets++;
                passed += ok ? 1 : 0;
                Console.WriteLine(Invariant(
                    $"{SizeName(size)}, buffers {BufferName(buffer)}: sealed memory file at {speedup:0.00}x the speed of bytes (target >= {SpeedupTarget:0}x) {(ok ? "PASS" : "MISS")}; memory file mapped once at {mappedOnce:0.00}x (not a target)"));
            }

            Console.WriteLine($"crossover, buffers {BufferName(buffer)}: sealed memory file {Crossover(buffer, 1, results)}; memory file mapped once {Crossover(buffer, 2, results)}");
        }

        // Independence of the socket's buffers: each buffer size's time over the default's (or the first listed), per round.
        int reference = buffers.Contains(0) ? 0 : buffers[0];
        foreach (int buffer in buffers.Where(b => b != reference))
        {
            foreach (int size in Sizes.Where(s => s >= TargetFromSize))
            {
                double sealedRatio = Median(Speedups(results[(buffer, size)][1], results[(reference, size)][1]));
                double bytesRatio = Median(Speedups(results[(buffer, size)][0], results[(reference, size)][0]));
                bool ok = sealedRatio <= BufferIndependenceLimit && sealedRatio >= 1 / BufferIndependenceLimit;
                checkedTargets++;
                passed += ok ? 1 : 0;
                Console.WriteLine(Invariant(
                    $"buffers {BufferName(buffer)} vs {BufferName(reference)}, {SizeName(size)}: sealed memory file {sealedRatio:0.00}x (target within {BufferIndependenceLimit:0.00}x) {(ok ? "PASS" : "MISS")}; bytes {bytesRatio:0.00}x"));
            }
        }

        return (passed, checkedTargets);
    }

    /// <summary>Where a memory file variant starts to win: the sizes from which its median speed-up stays above 1.</summary>
    private static string Crossover(int buffer, int variant, Dictionary<(int, int), double[][]> results)
    {
        int first = Sizes.Length;
        while (first > 0 && Median(Speedups(results[(buffer, Sizes[first - 1])][0], results[(buffer, Sizes[first - 1])][variant])) > 1)
        {
            first--;
        }

        return first == Sizes.Length ? $"slower at every size up to {SizeName(Sizes[^1])}"
            : first == 0 ? $"faster from {SizeName(Sizes[0])} (the smallest size measured)"
            : $"faster from {SizeName(Sizes[first])} (slower at {SizeName(Sizes[first - 1])})";
    }

    private static string Cell(double[] seconds) =>
        Invariant($"{Median(seconds) * 1e6:N1} [{seconds.Min() * 1e6:N1}..{seconds.Max() * 1e6:N1}]");

    private static string Ratio(double[] bytes, double[] memoryFile)
    {
        double[] speedups = Speedups(bytes, memoryFile);
        return Invariant($"{Median(speedups):0.00}x [{speedups.Min():0.00}..{speedups.Max():0.00}]");
    }

    /// <summary>Per round: one time over another, measured side by side (bytes over a memory file: its speed-up).</summary>
    private static double[] Speedups(double[] bytes, double[] memoryFile) => [.. bytes.Zip(memoryFile, (b, m) => b / m)];

    private static double Median(double[] values)
    {
        double[] sorted = [.. values.Order()];
        int middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    private static string SizeName(int size) => size >= 1 << 20 ? Invariant($"{size >> 20} MiB") : Invariant($"{size >> 10} KiB");

    private static string BufferName(int buffer) => buffer == 0 ? "default" : SizeName(buffer);

    private static int[] BufferOption(string[] args)
    {
        int index = Array.IndexOf(args, "--shm-buffers");
        return index >= 0 && index + 1 < args.Length
            ? [.. args[index + 1].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture))]
            : DefaultBuffers;
    }

    private static string Invariant(FormattableString text) => FormattableString.Invariant(text);

    /// <summary>The parent's end of one worker process, connected over a Unix stream socket, framed.</summary>
    private sealed class WorkerConnection : IDisposable
    {
        private readonly Process _process;
        private readonly Socket _socket;
        private readonly FdMessageChannel _channel;
        private readonly string _directory;
        private readonly byte[] _one = [(byte)'m'];
        private byte _value;

        private WorkerConnection(Process process, Socket socket, string directory)
        {
            _process = process;
            _socket = socket;
            _channel = new FdMessageChannel(socket, MaxPayloadLength);
            _directory = directory;
            ActualBuffer = socket.SendBufferSize;
        }

        public int ActualBuffer { get; }

        public static WorkerConnection Start(int buffer)
        {
            string directory = Directory.CreateTempSubdirectory("asyncsendfd-shm-").FullName;
            string path = Path.Combine(directory, "sock");
            using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listener.Bind(new UnixDomainSocketEndPoint(path));
            listener.Listen(1);

            string host = Environment.ProcessPath ?? throw new InvalidOperationException("No process path to start a worker.");
            var start = new ProcessStartInfo(host) { UseShellExecute = false };
            if (Path.GetFileNameWithoutExtension(host) == "dotnet")
            {
                start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "AsyncSendFd.Benchmarks.dll"));
            }

            start.ArgumentList.Add("--shm-worker");
            start.ArgumentList.Add(path);
            start.ArgumentList.Add(buffer.ToString(CultureInfo.InvariantCulture));
            Process process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the shm worker.");
            Socket socket = listener.AcceptAsync().WaitAsync(TimeSpan.FromMinutes(1)).GetAwaiter().GetResult();
            if (buffer > 0)
            {
                socket.SendBufferSize = buffer;
                socket.ReceiveBufferSize = buffer;
            }

            return new WorkerConnection(process, socket, directory);
        }

        /// <summary>Announces a variant and size; a memory file, if given, is the one mapped once.</summary>
        public async Task ControlAsync(char mode, int size, SafeHandle? file = null)
        {
            await _channel.SendAsync(Control(mode, size), file is null ? default : new[] { file }).ConfigureAwait(false);
            using FdMessage reply = await _channel.ReceiveAsync().ConfigureAwait(false) ?? throw new EndOfStreamException("The shm worker hung up.");
            if (!reply.Payload.Span.SequenceEqual("ok"u8))
            {
                throw new InvalidOperationException("The shm worker did not acknowledge.");
            }
        }

        public async Task RunBytesAsync(byte[] payload, int count)
        {
            for (int i = 0; i < count; i++)
            {
                byte value = ++_value;
                payload.AsSpan().Fill(value);
                await _channel.SendAsync(payload).ConfigureAwait(false);
                await ExpectChecksumAsync(payload.Length, value).ConfigureAwait(false);
            }
        }

        public async Task RunSealedAsync(int size, int count)
        {
            for (int i = 0; i < count; i++)
            {
                byte value = ++_value;
                using (MemoryFile file = MemoryFile.Create(size))
                {
                    file.Span.Fill(value);
                    file.Seal();
                    await _channel.SendAsync(_one, new SafeHandle[] { file.Handle }).ConfigureAwait(false);
                }

                await ExpectChecksumAsync(size, value).ConfigureAwait(false);
            }
        }

        public async Task RunReusedAsync(MemoryFile file, int count)
        {
            for (int i = 0; i < count; i++)
            {
                byte value = ++_value;
                file.Span.Fill(value);
                await _channel.SendAsync(_one).ConfigureAwait(false);
                await ExpectChecksumAsync((int)file.Length, value).ConfigureAwait(false);
            }
        }

        public void Dispose()
        {
            _socket.Dispose();
            if (!_process.WaitForExit(TimeSpan.FromSeconds(10)))
            {
                _process.Kill();
            }

            _process.Dispose();
            Directory.Delete(_directory, recursive: true);
        }

        private async Task ExpectChecksumAsync(int size, byte value)
        {
            using FdMessage reply = await _channel.ReceiveAsync().ConfigureAwait(false) ?? throw new EndOfStreamException("The shm worker hung up.");
            ulong checksum = BitConverter.ToUInt64(reply.Payload.Span);
            if (checksum != ExpectedChecksum(size, value))
            {
                throw new InvalidOperationException(Invariant($"The shm worker read {checksum:x}, not {ExpectedChecksum(size, value):x}: it did not see the payload."));
            }
        }
    }
}
