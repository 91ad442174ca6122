using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using System.Runtime.InteropServices;
using AsyncSendFd.Benchmarks.Workloads;

namespace AsyncSendFd.Benchmarks.Quick;

/// <summary>
/// A Stopwatch harness for a quick read (well under a minute): warms every variant up, then runs each scenario
/// in interleaved rounds (managed, raw, raw, managed, ...) so that drift and neighbours' noise hit both sides
/// alike, and prints one line per variant with its ratio to the raw floor and the targets.
/// </summary>
internal static class QuickHarness
{
    private const double WarmupSeconds = 0.4;

    /// <summary>
    /// Options: <c>--rounds N</c>, <c>--round-ms N</c>, <c>--only ping-pong|pipeline|batch|scale|shm</c> (shm runs only when named),
    /// <c>--scale-counts 0,1000,5000,9000</c> and <c>--pairs 1,100,1000</c> (see <see cref="ScaleHarness"/>);
    /// <c>--diag SCENARIO-managed|SCENARIO-raw</c> runs that one variant alone for ~3 s (for perf stat / strace),
    /// <c>--diag scale-CONFIG-N</c> one scale configuration (<see cref="ScaleHarness.Diagnose"/>).
    /// </summary>
    public static int Run(string[] args)
    {
        int diag = Array.IndexOf(args, "--diag");
        if (diag >= 0 && diag + 1 < args.Length)
        {
            return args[diag + 1].StartsWith("scale-", StringComparison.Ordinal) ? ScaleHarness.Diagnose(args[diag + 1], args) : Diagnose(args[diag + 1]);
        }

        int rounds = IntOption(args, "--rounds", 10);
        double roundSeconds = IntOption(args, "--round-ms", 120) / 1000.0;
        int only = Array.IndexOf(args, "--only");
        string? scenario = only >= 0 && only + 1 < args.Length ? args[only + 1] : null;
        bool Selected(string name) => scenario is null || scenario == name;
        if (scenario is not (null or "ping-pong" or "pipeline" or "batch" or "scale" or "shm"))
        {
            Console.Error.WriteLine($"Unknown scenario {scenario}: ping-pong, pipeline, batch, scale or shm.");
            return 2;
        }

        Console.WriteLine(
            $"AsyncSendFd quick benchmark: {RuntimeInformation.FrameworkDescription}, {RuntimeInformation.OSDescription}, " +
            $"{Environment.ProcessorCount} CPUs, {(GCSettings.IsServerGC ? "server" : "workstation")} GC, " +
            $"{rounds} rounds x {roundSeconds * 1000:0} ms per variant, interleaved");

        var total = Stopwatch.StartNew();
        var results = new List<Result>();
        if (Selected("ping-pong"))
        {
            using var pingPong = new PingPongWorkload();
            results.AddRange(RunScenario(
                new Variant("ping-pong 1 fd, SendFd/ReceiveFd", pingPong.Managed, FdsPerUnit: 1, MultiThreaded: false),
                new Variant("ping-pong 1 fd, raw floor", pingPong.Raw, FdsPerUnit: 1, MultiThreaded: false),
                new Target(TargetKind.TimeAtMost, 1.12, "time"),
                allocationLimit: 64,
                rounds,
                roundSeconds));
        }

        if (Selected("pipeline"))
        {
            using var pipeline = new PipelineWorkload();
            results.AddRange(RunScenario(
                new Variant("pipeline async, 2 tasks", n => pipeline.ManagedAsync(n).GetAwaiter().GetResult(), FdsPerUnit: 1, MultiThreaded: true),
                new Variant("pipeline raw, 2 blocking threads", pipeline.Raw, FdsPerUnit: 1, MultiThreaded: true),
                new Target(TargetKind.ThroughputAtLeast, 0.90, "thrpt"),
                allocationLimit: 80,
                rounds,
                roundSeconds));
        }

        if (Selected("batch"))
        {
            using var batch = new BatchWorkload();
            results.AddRange(RunScenario(
                new Variant("batch 64 fds, SendFds/ReceiveFds", batch.Managed, FdsPerUnit: BatchWorkload.FdsPerMessage, MultiThreaded: false),
                new Variant("batch 64 fds, raw floor", batch.Raw, FdsPerUnit: BatchWorkload.FdsPerMessage, MultiThreaded: false),
                new Target(TargetKind.TimeAtMost, 1.20, "time"),
                allocationLimit: 64,
                rounds,
                roundSeconds));
        }

        int passed = 0;
        int checkedTargets = 0;
        if (results.Count > 0)
        {
            Console.WriteLine();
            Console.WriteLine($"{"scenario",-36} {"fds/s",11} {"us/fd",8} {"B/fd",7}   vs raw floor (median of rounds [min..max]), targets");
            foreach (Result result in results)
            {
                Console.WriteLine(result.Format(ref passed, ref checkedTargets));
            }
        }

        if (Selected("scale"))
        {
            (int scalePassed, int scaleChecked) = ScaleHarness.Run(args, rounds, roundSeconds);
            passed += scalePassed;
            checkedTargets += scaleChecked;
        }

        if (scenario == "shm")
        {
            (int shmPassed, int shmChecked) = SharedMemoryHarness.Run(args, rounds, roundSeconds);
            passed += shmPassed;
            checkedTargets += shmChecked;
        }

        Console.WriteLine();
        Console.WriteLine($"{passed}/{checkedTargets} targets PASS; whole quick run {total.Elapsed.TotalSeconds:0.0} s");
        return 0;
    }

    private static int Diagnose(string name)
    {
        using var pingPong = new PingPongWorkload();
        using var pipeline = new PipelineWorkload();
        using var batch = new BatchWorkload();
        Variant? variant = name switch
        {
            "ping-pong-managed" => new Variant(name, pingPong.Managed, 1, false),
            "ping-pong-raw" => new Variant(name, pingPong.Raw, 1, false),
            "pipeline-managed" => new Variant(name, n => pipeline.ManagedAsync(n).GetAwaiter().GetResult(), 1, true),
            "pipeline-raw" => new Variant(name, pipeline.Raw, 1, true),
            "batch-managed" => new Variant(name, batch.Managed, BatchWorkload.FdsPerMessage, false),
            "batch-raw" => new Variant(name, batch.Raw, BatchWorkload.FdsPerMessage, false),
            _ => null,
        };
        if (variant is null)
        {
            Console.Error.WriteLine($"Unknown variant {name}.");
            return 2;
        }

        int units = Calibrate(variant, 1.0);
        var samples = Enumerable.Range(0, 3).Select(_ => Measure(variant, units)).ToList();
        long fds = samples.Sum(s => s.Fds);
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{name}: {fds} fds in {samples.Sum(s => s.Seconds):0.000} s, {samples.Sum(s => s.Seconds) * 1e6 / fds:0.000} us/fd, {(double)samples.Sum(s => s.AllocatedBytes) / fds:0.0} B/fd"));
        return 0;
    }

    private static IEnumerable<Result> RunScenario(Variant managed, Variant raw, Target target, int allocationLimit, int rounds, double roundSeconds)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        // Warm-up: both variants until tiered compilation has settled, and a size per round from their rates.
        int managedUnits = Calibrate(managed, roundSeconds);
        int rawUnits = Calibrate(raw, roundSeconds);

        var managedSamples = new List<Sample>(rounds);
        var rawSamples = new List<Sample>(rounds);
        for (int round = 0; round < rounds; round++)
        {
            // Alternate which goes first, so neither always runs right after the other's GC debt or cache state.
            if (round % 2 == 0)
            {
                managedSamples.Add(Measure(managed, managedUnits));
                rawSamples.Add(Measure(raw, rawUnits));
            }
            else
            {
                rawSamples.Add(Measure(raw, rawUnits));
                managedSamples.Add(Measure(managed, managedUnits));
            }
        }

        double[] ratios = new double[rounds];
        for (int i = 0; i < rounds; i++)
        {
            double timeRatio = managedSamples[i].MicrosecondsPerFd / rawSamples[i].MicrosecondsPerFd;
            ratios[i] = target.Kind == TargetKind.TimeAtMost ? timeRatio : 1 / timeRatio;
        }

        yield return new Result(managed, managedSamples, target, ratios, allocationLimit);
        yield return new Result(raw, rawSamples, null, null, null);
    }

    private static int Calibrate(Variant variant, double roundSeconds)
    {
        var watch = Stopwatch.StartNew();
        int units = 8;
        double rate = 0;
        while (watch.Elapsed.TotalSeconds < WarmupSeconds)
        {
            long start = Stopwatch.GetTimestamp();
            variant.Run(units);
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            rate = units / Math.Max(seconds, 1e-6);
            if (seconds < 0.05)
            {
                units *= 2;
            }
        }

        return Math.Max(1, (int)(rate * roundSeconds));
    }

    private static Sample Measure(Variant variant, int units)
    {
        long allocatedBefore = variant.MultiThreaded ? GC.GetTotalAllocatedBytes(precise: true) : GC.GetAllocatedBytesForCurrentThread();
        long start = Stopwatch.GetTimestamp();
        variant.Run(units);
        TimeSpan elapsed = Stopwatch.GetElapsedTime(start);
        long allocatedAfter = variant.MultiThreaded ? GC.GetTotalAllocatedBytes(precise: true) : GC.GetAllocatedBytesForCurrentThread();
        return new Sample((long)units * variant.FdsPerUnit, elapsed.TotalSeconds, allocatedAfter - allocatedBefore);
    }

    private static int IntOption(string[] args, string name, int fallback)
    {
        int index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length && int.TryParse(args[index + 1], CultureInfo.InvariantCulture, out int value) && value > 0
            ? value
            : fallback;
    }

    private static double Median(IEnumerable<double> values)
    {
        double[] sorted = values.Order().ToArray();
        int middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    private enum TargetKind
    {
        /// <summary>Managed time per descriptor over raw time per descriptor, at most the limit.</summary>
        TimeAtMost,

        /// <summary>Managed throughput over raw throughput, at least the limit.</summary>
        ThroughputAtLeast,
    }

    private sealed record Variant(string Name, Action<int> Run, int FdsPerUnit, bool MultiThreaded);

    private sealed record Target(TargetKind Kind, double Limit, string Label);

    private readonly record struct Sample(long Fds, double Seconds, long AllocatedBytes)
    {
        public double MicrosecondsPerFd => Seconds * 1e6 / Fds;
    }

    private sealed record Result(Variant Variant, List<Sample> Samples, Target? Target, double[]? Ratios, int? AllocationLimit)
    {
        public string Format(ref int passed, ref int checkedTargets)
        {
            double microseconds = Median(Samples.Select(s => s.MicrosecondsPerFd));
            double bytesPerFd = (double)Samples.Sum(s => s.AllocatedBytes) / Samples.Sum(s => s.Fds);
            string line = string.Create(
                CultureInfo.InvariantCulture,
                $"{Variant.Name,-36} {1e6 / microseconds,11:N0} {microseconds,8:0.000} {bytesPerFd,7:0.0}");
            if (Target is null || Ratios is null || AllocationLimit is null)
            {
                return line;
            }

            double ratio = Median(Ratios);
            bool timeOk = Target.Kind == TargetKind.TimeAtMost ? ratio <= Target.Limit : ratio >= Target.Limit;
            bool allocationOk = bytesPerFd <= AllocationLimit.Value;
            checkedTargets += 2;
            passed += (timeOk ? 1 : 0) + (allocationOk ? 1 : 0);
            string comparison = Target.Kind == TargetKind.TimeAtMost ? "<=" : ">=";
            return line + string.Create(
                CultureInfo.InvariantCulture,
                $"   {Target.Label} {ratio:0.00}x [{Ratios.Min():0.00}..{Ratios.Max():0.00}] (target {comparison} {Target.Limit:0.00}x) {(timeOk ? "PASS" : "MISS")}" +
                $"; alloc {bytesPerFd:0.0} B/fd (target <= {AllocationLimit} B/fd) {(allocationOk ? "PASS" : "MISS")}");
        }
    }
}
