using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;

namespace AsyncSendFd.Benchmarks.Chaos;

/// <summary>How long to run, the seed of every random choice, how long each round injects faults before its drain, and which.</summary>
internal sealed record ChaosOptions(TimeSpan Duration, int Seed, TimeSpan RoundChaos, Fault Faults = Fault.All);

/// <summary>The faults the chaos injects; <c>--without twin,squeeze</c> leaves some out, to tell one cause from another.</summary>
[Flags]
internal enum Fault
{
    None = 0,

    /// <summary>Async calls canceled before or while they run.</summary>
    Cancellation = 1,

    /// <summary>A handle disposed while the send carrying it runs (mostly sockets: their Dispose waits for references).</summary>
    HandleDisposal = 2,

    /// <summary>A sending socket disposed under its calls (its peer sees the end midway).</summary>
    SocketDisposal = 4,

    /// <summary>A receiving socket closed under its calls (its peer's sends fail midway).</summary>
    PeerClose = 8,

    /// <summary>The whole process held at its descriptor limit for a moment.</summary>
    Squeeze = 16,

    /// <summary>A lane's senders pause for over a second: receivers wait past their timeouts.</summary>
    Stall = 32,

    /// <summary>A lane's receivers pause: sends fill the socket and wait.</summary>
    Pause = 64,

    /// <summary>A second Socket over a receiving descriptor, receiving at the same time.</summary>
    Twin = 128,

    /// <summary>SendTimeout and ReceiveTimeout set on some lanes, for the blocking calls.</summary>
    Timeouts = 256,

    All = 511,
}

/// <summary>The outcome: a pass is no violation in at least one round after the warm-up.</summary>
internal sealed record ChaosReport(int Violations, int Rounds)
{
    public bool Passed => Violations == 0 && Rounds >= 1;
}

/// <summary>
/// The chaos run (<c>--chaos SECONDS [--seed N]</c>): rounds of many socket pairs of every type under a random mix of
/// blocking and async calls and injected faults, every invariant checked as it goes and after each round; the counts,
/// every violation and a verdict are printed at the end.
/// </summary>
[SupportedOSPlatform("linux")]
internal static class ChaosRunner
{
    private const int MiB = 1024 * 1024;

    /// <param name="args">What follows <c>--chaos</c>: the seconds, then optionally <c>--seed N</c> and <c>--without FAULT,FAULT</c>.</param>
    /// <returns>0 when no invariant was violated, 1 otherwise.</returns>
    public static int RunFromCommandLine(string[] args)
    {
        double seconds = args.Length > 0 && double.TryParse(args[0], CultureInfo.InvariantCulture, out double s) ? s : 60;
        int seedAt = Array.IndexOf(args, "--seed");
        int seed = seedAt >= 0 && seedAt + 1 < args.Length ? int.Parse(args[seedAt + 1], CultureInfo.InvariantCulture) : Random.Shared.Next();
        int withoutAt = Array.IndexOf(args, "--without");
        Fault faults = Fault.All;
        if (withoutAt >= 0 && withoutAt + 1 < args.Length)
        {
            foreach (string name in args[withoutAt + 1].Split(','))
            {
                faults &= ~Enum.Parse<Fault>(name.Replace("-", "", StringComparison.Ordinal), ignoreCase: true);
            }
        }

        var options = new ChaosOptions(TimeSpan.FromSeconds(seconds), seed, TimeSpan.FromSeconds(4), faults);
        ChaosReport report = RunAsync(options, Console.Out).GetAwaiter().GetResult();
        return report.Passed ? 0 : 1;
    }

    public static async Task<ChaosReport> RunAsync(ChaosOptions options, TextWriter output)
    {
        output = TextWriter.Synchronized(output);
        ulong limit = ChaosLibC.NoFileSoftLimit;
        ChaosLibC.RaiseNoFileLimit(); // descriptors in flight count against it
        try
        {
            return await RunRoundsAsync(options, output).ConfigureAwait(false);
        }
        finally
        {
            ChaosLibC.NoFileSoftLimit = limit;
        }
    }

    private static async Task<ChaosReport> RunRoundsAsync(ChaosOptions options, TextWriter output)
    {
        var counters = new ChaosCounters();
        var violations = new ViolationLog(output);
        var rng = new Random(options.Seed);
        output.WriteLine(
            $"chaos: {options.Duration.TotalSeconds:F0} s in rounds of {options.RoundChaos.TotalSeconds:F1} s of faults and a drain; "
            + $"seed {options.Seed}; faults: {options.Faults}; RLIMIT_NOFILE {ChaosLibC.NoFileSoftLimit}; {Environment.ProcessorCount} cores");
        var clock = Stopwatch.StartNew();

        // Round 0 warms up: the library's readiness engine and the runtime's own threads start on first use and stay.
        RoundResult warmup = await new ChaosRound(0, options.Faults, counters, violations, new Random(rng.Next())).RunAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        Baseline baseline = Baseline.Take();
        output.WriteLine($"round   0 (warm-up): {warmup.Lanes} lanes; baseline {baseline}");

        var heap = new List<long>();
        var resident = new List<long>();
        int round = 1;
        for (; clock.Elapsed < options.Duration; round++)
        {
            RoundResult result = await new ChaosRound(round, options.Faults, counters, violations, new Random(rng.Next())).RunAsync(options.RoundChaos).ConfigureAwait(false);

            // This continuation may run inline, on the stack of the round that just ended, which would keep its every
            // object alive through the heap measurement below: measure from a fresh stack.
            await Task.Yield();
            int descriptors = baseline.CheckDescriptors(round, violations);
            int threads = baseline.CheckThreads(round, violations);
            heap.Add(ProcessGauges.HeapBytes());
            resident.Add(ProcessGauges.ResidentBytes());
            output.WriteLine(
                $"round {round,3}: {result.Lanes,2} lanes, {result.ChaosMs} ms chaos + {result.DrainMs} ms drain; "
                + $"so far {counters.Operations:N0} operations, {counters[Counter.DescriptorsMoved]:N0} descriptors moved, {counters.Faults:N0} faults; "
                + $"descriptors {descriptors} (baseline {baseline.Descriptors.Count}), threads {threads} (baseline {baseline.Threads.Count}, "
                + $"{ProcessGauges.AllThreads()} with the pool's), heap {heap[^1] / (double)MiB:F1} MiB, RSS {resident[^1] / (double)MiB:F0} MiB; "
                + $"violations {violations.Total}");
            if (result.Abandoned > 0)
            {
                // Hung calls hold their sockets and threads for ever: measure the next rounds from here.
                baseline = Baseline.Take();
                output.WriteLine($"  {result.Abandoned} workers or disposals never returned and were abandoned; baseline reset to {baseline}");
            }
        }

        int rounds = round - 1;
        CheckMemory(heap, resident, violations, output);
        output.WriteLine($"chaos done: {rounds} rounds (and the warm-up) in {clock.Elapsed.TotalSeconds:F0} s, seed {options.Seed}");
        counters.Print(output);
        violations.PrintSummary();
        var report = new ChaosReport(violations.Total, rounds);
        output.WriteLine(
            $"chaos verdict: {(report.Passed ? "PASS" : "FAIL")}: {violations.Total} violations; {counters.Operations:N0} operations, "
            + $"{counters[Counter.DescriptorsMoved]:N0} descriptors moved, {counters.Faults:N0} faults injected, {rounds} rounds, "
            + $"{clock.Elapsed.TotalSeconds:F0} s");
        return report;
    }

    /// <summary>
    /// Memory stays flat: the GC heap (after a full collection) and RSS late in the run against early in it. A leak grows
    /// with the rounds; the allowance covers the pools and the GC's own sizing, which settle early.
    /// </summary>
    private static void CheckMemory(List<long> heap, List<long> resident, ViolationLog violations, TextWriter output)
    {
        if (heap.Count < 2)
        {
            return;
        }

        int window = Math.Max(1, Math.Min(5, heap.Count / 3)); // medians, so that one round's noise is no trend
        long heapEarly = Median(heap.Take(window));
        long heapLate = Median(heap.TakeLast(window));
        long rssEarly = Median(resident.Take(window));
        long rssLate = Median(resident.TakeLast(window));
        output.WriteLine(
            $"memory: GC heap {heapEarly / (double)MiB:F1} MiB early, {heapLate / (double)MiB:F1} MiB late; "
            + $"RSS {rssEarly / (double)MiB:F0} MiB early, {rssLate / (double)MiB:F0} MiB late (medians of {window} rounds)");
        if (heapLate - heapEarly > Math.Max(16L * MiB, heapEarly / 2))
        {
            violations.Report(Violations.MemoryGrowth, $"the GC heap grew from {heapEarly / (double)MiB:F1} MiB to {heapLate / (double)MiB:F1} MiB");
        }

        if (rssLate - rssEarly > Math.Max(128L * MiB, rssEarly / 2))
        {
            violations.Report(Violations.MemoryGrowth, $"RSS grew from {rssEarly / (double)MiB:F0} MiB to {rssLate / (double)MiB:F0} MiB");
        }

        static long Median(IEnumerable<long> values)
        {
            long[] sorted = [.. values.Order()];
            return sorted[sorted.Length / 2];
        }
    }

    /// <summary>The descriptors and threads the process has between rounds, which every round must return to.</summary>
    private sealed record Baseline(Dictionary<int, string> Descriptors, List<string> Threads)
    {
        public static Baseline Take() => new(ProcessGauges.Descriptors(), ProcessGauges.OtherThreads());

        /// <summary>Waits up to three seconds (never collecting, which would close a dropped handle and hide it) for the count to settle.</summary>
        public int CheckDescriptors(int round, ViolationLog violations)
        {
            Dictionary<int, string> now = ProcessGauges.Descriptors();
            for (int i = 0; i < 30 && now.Count > Descriptors.Count; i++)
            {
                Thread.Sleep(100);
                now = ProcessGauges.Descriptors();
            }

            if (now.Count > Descriptors.Count)
            {
                IEnumerable<string> added = now.Where(p => !Descriptors.TryGetValue(p.Key, out string? before) || before != p.Value)
                    .Take(12).Select(p => $"{p.Key}->{p.Value}");
                violations.Report(Violations.DescriptorLeak, $"after round {round}: {now.Count} open, baseline {Descriptors.Count}; opened since: {string.Join(", ", added)}");
            }

            return now.Count;
        }

        /// <summary>Waits up to five seconds for the threads the round started to exit.</summary>
        public int CheckThreads(int round, ViolationLog violations)
        {
            List<string> now = ProcessGauges.OtherThreads();
            for (int i = 0; i < 50 && now.Count > Threads.Count; i++)
            {
                Thread.Sleep(100);
                now = ProcessGauges.OtherThreads();
            }

            if (now.Count > Threads.Count)
            {
                var extra = new List<string>(now);
                foreach (string name in Threads)
                {
                    extra.Remove(name);
                }

                violations.Report(Violations.ThreadLeak, $"after round {round}: {now.Count} threads besides the pool's, baseline {Threads.Count}; extra: {string.Join(", ", extra)}");
            }

            return now.Count;
        }

        public override string ToString() => $"{Descriptors.Count} descriptors, {Threads.Count} threads besides the pool's";
    }
}
