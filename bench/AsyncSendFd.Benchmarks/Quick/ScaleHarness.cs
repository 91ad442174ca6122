using System.Diagnostics;
using System.Globalization;
using AsyncSendFd.Benchmarks.Infrastructure;
using AsyncSendFd.Benchmarks.Workloads;

namespace AsyncSendFd.Benchmarks.Quick;

/// <summary>
/// The "scale" scenario (issue 10): the async ping-pong with N idle waiters, beside .NET's own socket engine doing
/// the same in plain bytes, and N pairs pipelining at once. Every configuration runs in its own worker process
/// (<see cref="ScaleWorker"/>), because the inline-completion switches are environment variables read once at
/// startup; the parent sets each N up in all workers outside the timed region, warms each up, then runs rounds in
/// rotating order (A B C D, B C D A, ...) so that noise from other processes hits every configuration alike.
/// </summary>
internal static class ScaleHarness
{
    public const string NetInlineVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";
    public const string LibraryInlineVariable = "ASYNCSENDFD_INLINE_COMPLETIONS";

    /// <summary>Warm-up of each configuration at its first N (tiered compilation settles), and at every later N (calibration only).</summary>
    private const double FirstWarmupSeconds = 0.4;
    private const double LaterWarmupSeconds = 0.2;
    private const double FlatLimit = 1.20;
    private const double VersusNetDefaultLimit = 0.85;
    private const double DefaultVersusNetInlineLimit = 1.15;
    private const double VersusNetInlineLimit = 1.20;
    private const double PairsLimit = 1.20;

    /// <summary>The rounds of one N stop early once they have taken this many times their planned time (at least the floor).</summary>
    private const double RoundsBudgetFactor = 4;
    private const double RoundsBudgetFloorSeconds = 10;

    /// <summary>Descriptors a worker keeps besides the waiters' (runtime, pipes, the ping-pong pair, the file).</summary>
    private const int DescriptorReserve = 200;

    private static readonly int[] DefaultCounts = [0, 1_000, 5_000, 9_000];
    private static readonly int[] DefaultPairs = [1, 100, 1_000];
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(2);

    private static readonly Config LibDefault = new("AsyncSendFd default", "lib", null);
    private static readonly Config LibInline = new("AsyncSendFd inline opt-in [1]", "lib", LibraryInlineVariable);
    private static readonly Config NetDefault = new(".NET Socket default", "net", null);
    private static readonly Config NetInline = new(".NET Socket inline [2]", "net", NetInlineVariable);

    /// <summary>Runs the scenario and prints its tables.</summary>
    /// <returns>Targets passed and targets checked.</returns>
    public static (int Passed, int Checked) Run(string[] args, int rounds, double roundSeconds)
    {
        int[] counts = ListOption(args, "--scale-counts", DefaultCounts);
        int[] pairCounts = ListOption(args, "--pairs", DefaultPairs);
        (ulong soft, ulong hard) = DescriptorLimit.RaiseToHard();
        Config[] pingConfigs = [LibDefault, LibInline, NetDefault, NetInline];
        Config[] pairConfigs = [LibDefault, LibInline];

        Console.WriteLine();
        Console.WriteLine(
            Invariant($"scale: RLIMIT_NOFILE {soft}/{hard}; one worker process per configuration; idle waiters N = {string.Join(", ", counts.Select(n => Invariant($"{n:N0}")))}; ") +
            Invariant($"pipelining pairs N = {string.Join(", ", pairCounts.Select(n => Invariant($"{n:N0}")))}"));

        var workers = new Dictionary<Config, Worker>();
        var ping = new Dictionary<(Config, int), double[]>();
        var pairs = new Dictionary<(Config, int), double[]>();
        try
        {
            foreach (Config config in pingConfigs)
            {
                workers[config] = Worker.Start(config);
            }

            ulong workerLimit = workers.Values.Min(w => w.DescriptorLimit);
            foreach (int n in counts)
            {
                if ((ulong)((2 * n) + DescriptorReserve) > workerLimit)
                {
                    Console.WriteLine(Invariant($"  N={n:N0} idle waiters skipped: they need about {(2 * n) + DescriptorReserve} descriptors, RLIMIT_NOFILE is {workerLimit}"));
                    continue;
                }

                Measure(workers, pingConfigs, $"N={n:N0} idle waiters", $"setup-ping {n}", "ping", unitsPerCommandUnit: 1, rounds, roundSeconds, ping, n);
            }

            foreach (int n in pairCounts)
            {
                if ((ulong)((2 * n) + DescriptorReserve) > workerLimit || (ulong)n * LibraryPairsWorkload.InFlightPerPair > workerLimit * 3 / 4)
                {
                    Console.WriteLine(Invariant($"  N={n:N0} pairs skipped: {2 * n} sockets and up to {n * LibraryPairsWorkload.InFlightPerPair} descriptors in flight do not fit RLIMIT_NOFILE {workerLimit}"));
                    continue;
                }

                Measure(workers, pairConfigs, $"N={n:N0} pairs", $"setup-pairs {n}", "pairs", unitsPerCommandUnit: n, rounds, roundSeconds, pairs, n);
            }
        }
        finally
        {
            foreach (Worker worker in workers.Values)
            {
                worker.Dispose();
            }
        }

        var tally = new Tally();
        PrintPingTables(pingConfigs, counts, rounds, ping, tally);
        PrintPairsTable(pairConfigs, pairCounts, rounds, pairs, tally);
        return (tally.Passed, tally.Checked);
    }

    /// <summary>
    /// <c>--diag scale-CONFIG-N</c>, CONFIG one of lib, lib-inline, net, net-inline (N idle waiters) or pairs,
    /// pairs-inline (N pipelining pairs): that one configuration alone, in this process, for ~3 s after setup and
    /// warm-up. If the environment does not match the configuration, it re-launches itself with the right one
    /// (perf stat and strace -f follow the child).
    /// </summary>
    public static int Diagnose(string name, string[] args)
    {
        int dash = name.LastIndexOf('-');
        string key = dash > "scale-".Length ? name["scale-".Length..dash] : string.Empty;
        (string? variable, bool isPairs, string kind) = key switch
        {
            "lib" => ((string?)null, false, "lib"),
            "lib-inline" => (LibraryInlineVariable, false, "lib"),
            "net" => (null, false, "net"),
            "net-inline" => (NetInlineVariable, false, "net"),
            "pairs" => (null, true, "lib"),
            "pairs-inline" => (LibraryInlineVariable, true, "lib"),
            _ => (null, false, string.Empty),
        };
        if (kind.Length == 0 || !int.TryParse(name.AsSpan(dash + 1), CultureInfo.InvariantCulture, out int n) || n < 0)
        {
            Console.Error.WriteLine($"Unknown variant {name}: scale-(lib|lib-inline|net|net-inline)-N or scale-(pairs|pairs-inline)-N.");
            return 2;
        }

        bool environmentMatches = Environment.GetEnvironmentVariable(NetInlineVariable) == (variable == NetInlineVariable ? "1" : null) &&
            Environment.GetEnvironmentVariable(LibraryInlineVariable) == (variable == LibraryInlineVariable ? "1" : null);
        if (!environmentMatches)
        {
            ProcessStartInfo start = SelfStartInfo(variable);
            foreach (string arg in args)
            {
                start.ArgumentList.Add(arg);
            }

            using Process child = Process.Start(start) ?? throw new InvalidOperationException("Could not re-launch the benchmark.");
            child.WaitForExit();
            return child.ExitCode;
        }

        (ulong soft, _) = DescriptorLimit.RaiseToHard();
        long setupStart = Stopwatch.GetTimestamp();
        IScalePingPong? pingPong = null;
        LibraryPairsWorkload? pipelines = null;
        Func<int, Task> run;
        if (isPairs)
        {
            pipelines = new LibraryPairsWorkload(n);
            run = pipelines.RunAsync;
        }
        else
        {
            pingPong = kind == "lib" ? new LibraryScalePingPong(n) : new SocketScalePingPong(n);
            run = pingPong.RunAsync;
        }

        try
        {
            double setupSeconds = Stopwatch.GetElapsedTime(setupStart).TotalSeconds;
            double Timed(int units)
            {
                long start = Stopwatch.GetTimestamp();
                run(units).GetAwaiter().GetResult();
                return Stopwatch.GetElapsedTime(start).TotalSeconds;
            }

            int units = Calibrate(Timed, 1.0, 2 * FirstWarmupSeconds);
            double seconds = 0;
            long total = 0;
            for (int i = 0; i < 3; i++)
            {
                seconds += Timed(units);
                total += units;
            }

            pingPong?.CheckIdle();
            string unit = isPairs ? "descriptor (over all pairs)" : "round trip";
            long perUnit = isPairs ? n : 1;
            Console.WriteLine(
                Invariant($"{name} ({(variable is null ? "default" : variable + "=1")}, RLIMIT_NOFILE {soft}): set up in {setupSeconds:0.000} s; ") +
                Invariant($"{total * perUnit} {(isPairs ? "descriptors" : "round trips")} in {seconds:0.000} s, {seconds * 1e6 / (total * perUnit):0.000} us per {unit}"));
        }
        finally
        {
            pingPong?.Dispose();
            pipelines?.Dispose();
        }

        return 0;
    }

    /// <summary>Sets N up in every worker, warms each up, runs the interleaved rounds, tears down.</summary>
    private static void Measure(
        Dictionary<Config, Worker> workers,
        Config[] configs,
        string label,
        string setupCommand,
        string runCommand,
        int unitsPerCommandUnit,
        int rounds,
        double roundSeconds,
        Dictionary<(Config, int), double[]> results,
        int n)
    {
        var phase = Stopwatch.StartNew();
        double setupSeconds = Broadcast(workers, configs, setupCommand);
        double setupWall = phase.Elapsed.TotalSeconds;

        phase.Restart();
        var units = new Dictionary<Config, int>();
        foreach (Config config in configs)
        {
            Worker worker = workers[config];
            bool first = worker.WarmedUp.Add(runCommand);
            units[config] = Calibrate(k => worker.Call($"{runCommand} {k}"), roundSeconds, first ? FirstWarmupSeconds : LaterWarmupSeconds);
        }

        double warmupWall = phase.Elapsed.TotalSeconds;
        phase.Restart();
        var samples = configs.ToDictionary(c => c, _ => new double[rounds]);
        double budget = Math.Max(RoundsBudgetFloorSeconds, RoundsBudgetFactor * rounds * configs.Length * roundSeconds);
        int done = 0;
        for (int round = 0; round < rounds; round++)
        {
            if (round > 0 && phase.Elapsed.TotalSeconds > budget)
            {
                break; // rounds ran far longer than the warm-up rate predicted: keep what was measured, interleaved alike
            }

            for (int j = 0; j < configs.Length; j++)
            {
                Config config = configs[(round + j) % configs.Length];
                int k = units[config];
                double seconds = workers[config].Call($"{runCommand} {k}");
                samples[config][round] = seconds * 1e6 / ((double)k * unitsPerCommandUnit);
            }

            done++;
        }

        double roundsWall = phase.Elapsed.TotalSeconds;
        phase.Restart();
        double teardownSeconds = Broadcast(workers, configs, "teardown");
        foreach (Config config in configs)
        {
            results[(config, n)] = samples[config][..done];
        }

        string cut = done < rounds ? Invariant($" (stopped: over the {budget:0} s budget)") : string.Empty;
        Console.WriteLine(Invariant(
            $"  {label}: set up {setupWall:0.0} s (slowest worker {setupSeconds:0.0} s), warm-up {warmupWall:0.0} s, {done} rounds {roundsWall:0.0} s{cut}, torn down {phase.Elapsed.TotalSeconds:0.0} s (slowest {teardownSeconds:0.0} s)"));
    }

    /// <summary>Sends a command to every worker at once (setups and teardowns are not timed) and waits for all.</summary>
    /// <returns>The slowest worker's time.</returns>
    private static double Broadcast(Dictionary<Config, Worker> workers, Config[] configs, string command)
    {
        foreach (Config config in configs)
        {
            workers[config].Send(command);
        }

        return configs.Max(c => workers[c].Expect(command));
    }

    /// <summary>Runs until <paramref name="warmupSeconds"/> have passed, doubling the size of a run while one takes under 50 ms.</summary>
    /// <returns>Units for a round of about <paramref name="roundSeconds"/> at the last run's rate.</returns>
    private static int Calibrate(Func<int, double> run, double roundSeconds, double warmupSeconds)
    {
        var watch = Stopwatch.StartNew();
        int units = 4;
        double rate = 0;
        while (watch.Elapsed.TotalSeconds < warmupSeconds)
        {
            double seconds = run(units);
            rate = units / Math.Max(seconds, 1e-6);
            if (seconds < 0.05)
            {
                units *= 2;
            }
        }

        return Math.Max(1, (int)(rate * roundSeconds));
    }

    private static void PrintPingTables(Config[] configs, int[] counts, int rounds, Dictionary<(Config, int), double[]> ping, Tally tally)
    {
        int[] measured = counts.Where(n => ping.ContainsKey((configs[0], n))).ToArray();
        if (measured.Length == 0)
        {
            return;
        }

        Console.WriteLine();
        Console.WriteLine($"scale: async ping-pong (a descriptor, or 4 bytes for .NET, there and back) with N other sockets each waiting in a receive");
        Console.WriteLine($"us per round trip, median [min..max] of {rounds} interleaved rounds (fewer where a progress line above says so)");
        Header("variant", measured.Select(n => Invariant($"N={n:N0}")));
        foreach (Config config in configs)
        {
            Row(config.Name, measured.Select(n => Cell(ping[(config, n)])));
        }

        int baseline = measured[0];
        int largest = measured[^1];
        Console.WriteLine();
        Console.WriteLine(Invariant($"flat: each variant vs itself at N={baseline:N0} (ratio of medians); target at N={largest:N0} <= {FlatLimit:0.00}x for the library"));
        Header("variant", measured.Select(n => Invariant($"N={n:N0}")));
        foreach (Config config in configs)
        {
            double zero = Median(ping[(config, baseline)]);
            Row(config.Name, measured.Select(n =>
            {
                double ratio = Median(ping[(config, n)]) / zero;
                string text = Ratio(ratio);
                return n == largest && n != baseline && config.Kind == "lib" ? text + " " + tally.Verdict(ratio <= FlatLimit) : text;
            }));
        }

        Console.WriteLine();
        Console.WriteLine("library vs .NET at the same N: median of per-round ratios [min..max]");
        Header("ratio", measured.Select(n => Invariant($"N={n:N0}")));
        Row(Invariant($"default vs .NET (<= {VersusNetDefaultLimit:0.00}x)"), measured.Select(n => RatioCell(ping[(LibDefault, n)], ping[(NetDefault, n)], VersusNetDefaultLimit, tally)));
        Row(Invariant($"default vs .NET inline (<= {DefaultVersusNetInlineLimit:0.00}x)"), measured.Select(n => RatioCell(ping[(LibDefault, n)], ping[(NetInline, n)], DefaultVersusNetInlineLimit, tally)));
        Row(Invariant($"opt-in vs .NET inline (<= {VersusNetInlineLimit:0.00}x)"), measured.Select(n => RatioCell(ping[(LibInline, n)], ping[(NetInline, n)], VersusNetInlineLimit, tally)));
        Console.WriteLine($"[1] {LibraryInlineVariable}=1   [2] {NetInlineVariable}=1");
    }

    private static void PrintPairsTable(Config[] configs, int[] counts, int rounds, Dictionary<(Config, int), double[]> pairs, Tally tally)
    {
        int[] measured = counts.Where(n => pairs.ContainsKey((configs[0], n))).ToArray();
        if (measured.Length == 0)
        {
            return;
        }

        int smallest = measured[0];
        int largest = measured[^1];
        Console.WriteLine();
        Console.WriteLine(Invariant(
            $"pairs: N socket pairs pipelining at once (per pair a SendFdAsync loop and a ReceiveFdAsync + Dispose loop; SO_SNDBUF {LibraryPairsWorkload.SendBufferSize}, ~{LibraryPairsWorkload.InFlightPerPair} in flight per pair)"));
        Console.WriteLine($"us per descriptor over all pairs, median [min..max] of {rounds} interleaved rounds (fewer where a progress line above says so)");
        string[] columns = measured.Select(n => Invariant($"N={n:N0}")).ToArray();
        bool compare = largest != smallest;
        Header("variant", compare ? columns.Append(Invariant($"N={largest:N0} vs N={smallest:N0} (<= {PairsLimit:0.00}x)")) : columns);
        foreach (Config config in configs)
        {
            IEnumerable<string> cells = measured.Select(n => Cell(pairs[(config, n)]));
            double ratio = Median(pairs[(config, largest)]) / Median(pairs[(config, smallest)]);
            Row(config.Name, compare ? cells.Append(Ratio(ratio) + " " + tally.Verdict(ratio <= PairsLimit)) : cells);
        }
    }

    private static string RatioCell(double[] library, double[] net, double limit, Tally tally)
    {
        double[] ratios = library.Zip(net, (l, d) => l / d).ToArray();
        double ratio = Median(ratios);
        return $"{Ratio(ratio)} [{RatioNumber(ratios.Min())}..{RatioNumber(ratios.Max())}] " + tally.Verdict(ratio <= limit);
    }

    private static void Header(string first, IEnumerable<string> columns) => Row(first, columns);

    private static void Row(string first, IEnumerable<string> cells) =>
        Console.WriteLine($"{first,-36}" + string.Concat(cells.Select(c => $" {c,-28}")).TrimEnd());

    private static string Cell(double[] samples) => $"{Us(Median(samples))} [{Us(samples.Min())}..{Us(samples.Max())}]";

    /// <summary>Two decimals up to 10x, then fewer: the old engine's ratios run into the thousands.</summary>
    private static string Ratio(double value) => RatioNumber(value) + "x";

    private static string RatioNumber(double value) =>
        value.ToString(value < 10 ? "0.00" : value < 100 ? "0.0" : "N0", CultureInfo.InvariantCulture);

    private static string Us(double value) => value.ToString(value < 10 ? "0.00" : value < 1000 ? "0.0" : "N0", CultureInfo.InvariantCulture);

    private static double Median(double[] values)
    {
        double[] sorted = values.Order().ToArray();
        int middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    private static int[] ListOption(string[] args, string name, int[] fallback)
    {
        int index = Array.IndexOf(args, name);
        if (index < 0 || index + 1 >= args.Length)
        {
            return fallback;
        }

        int[] values = args[index + 1]
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => int.Parse(s, NumberStyles.AllowThousands, CultureInfo.InvariantCulture))
            .ToArray();
        return values.Length > 0 && values.All(v => v >= 0) ? values.Distinct().Order().ToArray() : throw new ArgumentException($"{name} takes a comma-separated list of counts >= 0.");
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>This benchmark again (apphost, or dotnet + the dll), with both inline switches cleared and <paramref name="variable"/> set to 1.</summary>
    private static ProcessStartInfo SelfStartInfo(string? variable)
    {
        string host = Environment.ProcessPath ?? throw new InvalidOperationException("No process path to re-launch.");
        var start = new ProcessStartInfo(host) { UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "AsyncSendFd.Benchmarks.dll"));
        }

        _ = start.Environment.Remove(NetInlineVariable);
        _ = start.Environment.Remove(LibraryInlineVariable);
        if (variable is not null)
        {
            start.Environment[variable] = "1";
        }

        return start;
    }

    /// <summary>Targets checked and passed, and the PASS/MISS text for each.</summary>
    private sealed class Tally
    {
        public int Passed { get; private set; }

        public int Checked { get; private set; }

        public string Verdict(bool ok)
        {
            Checked++;
            Passed += ok ? 1 : 0;
            return ok ? "PASS" : "MISS";
        }
    }

    private sealed record Config(string Name, string Kind, string? InlineVariable);

    /// <summary>A worker process and its command line protocol; every read has a timeout, so a hung worker cannot hang the run.</summary>
    private sealed class Worker : IDisposable
    {
        private readonly Process _process;
        private readonly string _name;

        private Worker(Process process, string name)
        {
            _process = process;
            _name = name;
        }

        /// <summary>The commands this worker has had a first, long warm-up for (the JIT has settled on their code).</summary>
        public HashSet<string> WarmedUp { get; } = [];

        /// <summary>The worker's RLIMIT_NOFILE soft limit, after raising it to the hard limit.</summary>
        public ulong DescriptorLimit { get; private set; }

        public static Worker Start(Config config)
        {
            ProcessStartInfo start = SelfStartInfo(config.InlineVariable);
            start.ArgumentList.Add("--scale-worker");
            start.ArgumentList.Add(config.Kind);
            start.RedirectStandardInput = true;
            start.RedirectStandardOutput = true;
            Process process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start the worker for {config.Name}.");
            var worker = new Worker(process, config.Name);
            try
            {
                string[] ready = worker.ReadLine("start");
                worker.DescriptorLimit = ready.Length == 4 && ready[0] == "ready"
                    ? ulong.Parse(ready[2], CultureInfo.InvariantCulture)
                    : throw new InvalidOperationException($"Worker {config.Name} said '{string.Join(' ', ready)}' instead of ready.");
                return worker;
            }
            catch
            {
                worker.Dispose();
                throw;
            }
        }

        public void Send(string command) => _process.StandardInput.WriteLine(command);

        /// <summary>Reads the reply to <paramref name="command"/>.</summary>
        /// <returns>The seconds the worker reports.</returns>
        public double Expect(string command)
        {
            string[] reply = ReadLine(command);
            return reply.Length == 2 && reply[0] == "ok"
                ? double.Parse(reply[1], CultureInfo.InvariantCulture)
                : throw new InvalidOperationException($"Worker {_name} answered '{command}' with: {string.Join(' ', reply)}");
        }

        public double Call(string command)
        {
            Send(command);
            return Expect(command);
        }

        public void Dispose()
        {
            try
            {
                if (!_process.HasExited)
                {
                    _process.StandardInput.WriteLine("quit");
                    _process.StandardInput.Close();
                }
            }
            catch (IOException)
            {
                // The worker is gone already.
            }

            if (!_process.WaitForExit(CommandTimeout))
            {
                Console.Error.WriteLine($"Worker {_name} (pid {_process.Id}) did not exit; killing it.");
                _process.Kill();
            }

            _process.Dispose();
        }

        private string[] ReadLine(string command)
        {
            Task<string?> line = _process.StandardOutput.ReadLineAsync();
            if (!line.Wait(CommandTimeout))
            {
                Console.Error.WriteLine($"Worker {_name} (pid {_process.Id}) did not answer '{command}' within {CommandTimeout.TotalMinutes:0} min; killing it.");
                _process.Kill();
                throw new TimeoutException($"Worker {_name} did not answer '{command}'.");
            }

            string text = line.Result
                ?? throw new InvalidOperationException($"Worker {_name} exited (code {(_process.WaitForExit(5000) ? _process.ExitCode : -1)}) instead of answering '{command}'.");
            return text.StartsWith("error ", StringComparison.Ordinal)
                ? throw new InvalidOperationException($"Worker {_name} failed '{command}': {text["error ".Length..]}")
                : text.Split(' ');
        }
    }
}
