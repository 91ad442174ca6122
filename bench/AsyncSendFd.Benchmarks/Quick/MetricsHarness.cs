using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Diagnostics.Tracing;
using System.Globalization;
using AsyncSendFd.Benchmarks.Workloads;

namespace AsyncSendFd.Benchmarks.Quick;

/// <summary>
/// The "metrics" scenario: what the <c>AsyncSendFd</c> meter costs the blocking ping-pong and the async pipeline.
/// Each runs with nobody listening, with a <see cref="MeterListener"/> that adds up every measurement (an in-process
/// exporter), and with the runtime's metrics EventSource aggregating them (what <c>dotnet-counters monitor</c> turns
/// on in the process), in interleaved rounds in rotating order; each listener's cost is divided by the cost with
/// nobody listening, round by round. Two costs per descriptor: wall time, and the process's CPU time (all threads:
/// the callers, the readiness pollers, the thread pool, the EventSource's aggregation thread), which a loaded machine
/// inflates far less than wall time; the target is checked on CPU time. What nobody listening costs against the code
/// before the meter existed cannot be measured in one process: compare the other scenarios across the two builds.
/// </summary>
internal static class MetricsHarness
{
    private const string MeterName = "AsyncSendFd";
    private const double ListenerLimit = 1.05;
    private const double WarmupSeconds = 0.4;

    /// <summary>Runs the scenario and prints its table.</summary>
    /// <returns>Targets passed and targets checked.</returns>
    public static (int Passed, int Checked) Run(int rounds, double roundSeconds)
    {
        using var pingPong = new PingPongWorkload();
        using var pipeline = new PipelineWorkload();
        Listener[] listeners = [new("nobody listening", () => null), new("MeterListener", CountingListener.Start), new("metrics EventSource", CountersSession.Start)];

        Console.WriteLine();
        Console.WriteLine(Invariant($"metrics: {rounds} rounds x {roundSeconds * 1000:0} ms per variant, rotating order; wall and CPU us per descriptor, ratios to nobody listening (median [min..max] of rounds)"));
        Console.WriteLine(Invariant($"{"scenario",-36} {"listener",-20} {"us/fd",7} {"CPU us/fd",9}   vs nobody listening: wall; CPU (target)"));
        int passed = 0;
        int checkedTargets = 0;
        foreach ((string name, Action<int> run) in new (string, Action<int>)[]
        {
            ("ping-pong 1 fd, SendFd/ReceiveFd", pingPong.Managed),
            ("pipeline async, 2 tasks", n => pipeline.ManagedAsync(n).GetAwaiter().GetResult()),
        })
        {
            (double[][] wall, double[][] cpu) = Measure(run, listeners, rounds, roundSeconds);
            for (int l = 0; l < listeners.Length; l++)
            {
                string line = Invariant($"{(l == 0 ? name : ""),-36} {listeners[l].Name,-20} {Median(wall[l]),7:0.000} {Median(cpu[l]),9:0.000}");
                if (l > 0)
                {
                    double[] wallRatios = Ratios(wall[l], wall[0]);
                    double[] cpuRatios = Ratios(cpu[l], cpu[0]);
                    bool ok = Median(cpuRatios) <= ListenerLimit;
                    checkedTargets++;
                    passed += ok ? 1 : 0;
                    line += Invariant($"   {Median(wallRatios):0.000}x [{wallRatios.Min():0.000}..{wallRatios.Max():0.000}];") +
                        Invariant($" {Median(cpuRatios):0.000}x [{cpuRatios.Min():0.000}..{cpuRatios.Max():0.000}] (<= {ListenerLimit:0.00}x) {(ok ? "PASS" : "MISS")}");
                }

                Console.WriteLine(line);
            }
        }

        return (passed, checkedTargets);
    }

    /// <returns>Wall and CPU microseconds per descriptor, per listener, per round.</returns>
    private static (double[][] Wall, double[][] Cpu) Measure(Action<int> run, Listener[] listeners, int rounds, double roundSeconds)
    {
        // Warm-up, with every listener in turn, so that each path of the record methods is compiled at its last tier.
        int units = 8;
        double rate = 0;
        var warmup = Stopwatch.StartNew();
        while (warmup.Elapsed.TotalSeconds < WarmupSeconds * listeners.Length)
        {
            using (listeners[(int)(warmup.Elapsed.TotalSeconds / WarmupSeconds) % listeners.Length].Attach())
            {
                long start = Stopwatch.GetTimestamp();
                run(units);
                double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
                rate = units / Math.Max(seconds, 1e-6);
                units = seconds < 0.05 ? units * 2 : units;
            }
        }

        units = Math.Max(1, (int)(rate * roundSeconds));
        double[][] wall = [.. listeners.Select(_ => new double[rounds])];
        double[][] cpu = [.. listeners.Select(_ => new double[rounds])];
        for (int round = 0; round < rounds; round++)
        {
            for (int i = 0; i < listeners.Length; i++)
            {
                int l = (round + i) % listeners.Length;
                using IDisposable? attached = listeners[l].Attach();
                TimeSpan cpuStart = Environment.CpuUsage.TotalTime;
                long start = Stopwatch.GetTimestamp();
                run(units);
                wall[l][round] = Stopwatch.GetElapsedTime(start).TotalSeconds * 1e6 / units;
                cpu[l][round] = (Environment.CpuUsage.TotalTime - cpuStart).TotalSeconds * 1e6 / units;
            }
        }

        return (wall, cpu);
    }

    private static double[] Ratios(double[] with, double[] without) => [.. with.Zip(without, (w, n) => w / n)];

    private static double Median(double[] values)
    {
        double[] sorted = [.. values.Order()];
        int middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private sealed record Listener(string Name, Func<IDisposable?> Attach);

    /// <summary>Adds every measurement of the meter into a total per instrument, as a minimal exporter does.</summary>
    private sealed class CountingListener : IDisposable
    {
        private readonly MeterListener _listener = new();

        private CountingListener()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == MeterName)
                {
                    listener.EnableMeasurementEvents(instrument, new StrongBox());
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, _, state) => Interlocked.Add(ref ((StrongBox)state!).Total, value));
            _listener.Start();
        }

        public static IDisposable Start() => new CountingListener();

        public void Dispose() => _listener.Dispose();

        private sealed class StrongBox
        {
            public long Total;
        }
    }

    /// <summary>
    /// Turns on the runtime's metrics EventSource for the meter, with the arguments dotnet-counters sends, and waits
    /// until it reports the meter's instruments: from then on every measurement goes through its aggregators.
    /// </summary>
    private sealed class CountersSession : EventListener
    {
        private readonly TaskCompletionSource _reporting = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private EventSource? _source;

        public static IDisposable Start()
        {
            var session = new CountersSession();
            session.EnableSource();
            if (!session._reporting.Task.Wait(TimeSpan.FromSeconds(10)))
            {
                session.Dispose();
                throw new InvalidOperationException("The metrics EventSource did not start reporting the AsyncSendFd meter.");
            }

            return session;
        }

        protected override void OnEventSourceCreated(EventSource eventSource)
        {
            base.OnEventSourceCreated(eventSource);
            _source ??= eventSource.Name == "System.Diagnostics.Metrics" ? eventSource : null;
        }

        protected override void OnEventWritten(EventWrittenEventArgs eventData)
        {
            if (eventData.EventName == "BeginInstrumentReporting" && eventData.Payload?.Contains(MeterName) == true)
            {
                _reporting.TrySetResult();
            }
        }

        private void EnableSource()
        {
            if (_source is null)
            {
                throw new InvalidOperationException("No System.Diagnostics.Metrics EventSource in this process.");
            }

            EnableEvents(_source, EventLevel.Informational, (EventKeywords)0x3, new Dictionary<string, string?>
            {
                ["SessionId"] = Guid.NewGuid().ToString(),
                ["Metrics"] = MeterName,
                ["RefreshInterval"] = "1",
                ["MaxTimeSeries"] = "1000",
                ["MaxHistograms"] = "10",
            });
        }
    }
}
