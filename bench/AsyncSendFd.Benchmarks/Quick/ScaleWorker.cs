using System.Diagnostics;
using System.Globalization;
using AsyncSendFd.Benchmarks.Infrastructure;
using AsyncSendFd.Benchmarks.Workloads;

namespace AsyncSendFd.Benchmarks.Quick;

/// <summary>
/// The child process of the scale scenario (<c>--scale-worker lib|net</c>): its environment fixes the engine
/// configuration (.NET reads DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS once at startup), and the parent drives
/// it over stdin, one command a line, so that rounds of every configuration interleave in one run.
/// </summary>
/// <remarks>
/// Protocol. The worker first prints <c>ready PID SOFT HARD</c> (its RLIMIT_NOFILE after raising it). Then, per
/// command, one line: <c>ok SECONDS</c> (the time the command's work took, measured in the worker) or
/// <c>error TEXT</c>.
/// <list type="bullet">
/// <item><c>setup-ping N</c>: the ping-pong pair and N idle waiters (replaces any earlier setup).</item>
/// <item><c>ping K</c>: K timed round trips.</item>
/// <item><c>setup-pairs N</c>: N pipelining pairs (library workers only).</item>
/// <item><c>pairs K</c>: K descriptors through every pair, all pairs at once, timed.</item>
/// <item><c>teardown</c>: cancels the idle waiters and closes everything.</item>
/// <item><c>quit</c> (or end of input): tears down and exits.</item>
/// </list>
/// </remarks>
internal static class ScaleWorker
{
    public static int Run(string kind)
    {
        if (kind is not ("lib" or "net"))
        {
            Console.Error.WriteLine($"--scale-worker takes lib or net, not {kind}.");
            return 2;
        }

        (ulong soft, ulong hard) = DescriptorLimit.RaiseToHard();
        Console.WriteLine(FormattableString.Invariant($"ready {Environment.ProcessId} {soft} {hard}"));

        IScalePingPong? ping = null;
        LibraryPairsWorkload? pairs = null;
        void TearDown()
        {
            IScalePingPong? p = ping;
            LibraryPairsWorkload? q = pairs;
            ping = null;
            pairs = null;
            try
            {
                p?.Dispose();
            }
            finally
            {
                q?.Dispose();
            }
        }

        try
        {
            string? line;
            while ((line = Console.ReadLine()) is not null)
            {
                string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length == 0)
                {
                    continue;
                }

                if (parts[0] == "quit")
                {
                    break;
                }

                try
                {
                    long start = Stopwatch.GetTimestamp();
                    switch (parts[0])
                    {
                        case "setup-ping":
                            TearDown();
                            ping = kind == "lib" ? new LibraryScalePingPong(Count(parts)) : new SocketScalePingPong(Count(parts));
                            Settle();
                            break;
                        case "ping":
                            IScalePingPong pingPong = ping ?? throw new InvalidOperationException("ping before setup-ping");
                            start = Stopwatch.GetTimestamp();
                            pingPong.RunAsync(Count(parts)).GetAwaiter().GetResult();
                            double pingSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
                            pingPong.CheckIdle();
                            Reply(pingSeconds);
                            continue;
                        case "setup-pairs":
                            if (kind != "lib")
                            {
                                throw new InvalidOperationException("pairs run in library workers only");
                            }

                            TearDown();
                            pairs = new LibraryPairsWorkload(Count(parts));
                            Settle();
                            break;
                        case "pairs":
                            LibraryPairsWorkload pipelines = pairs ?? throw new InvalidOperationException("pairs before setup-pairs");
                            start = Stopwatch.GetTimestamp();
                            pipelines.RunAsync(Count(parts)).GetAwaiter().GetResult();
                            break;
                        case "teardown":
                            TearDown();
                            Settle();
                            break;
                        default:
                            throw new InvalidOperationException($"unknown command {parts[0]}");
                    }

                    Reply(Stopwatch.GetElapsedTime(start).TotalSeconds);
                }
                catch (Exception e)
                {
                    Console.WriteLine($"error {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}");
                }
            }
        }
        finally
        {
            TearDown();
        }

        return 0;
    }

    /// <summary>Setup garbage is collected here rather than in a timed round.</summary>
    private static void Settle()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    private static int Count(string[] parts) =>
        parts.Length == 2 && int.TryParse(parts[1], CultureInfo.InvariantCulture, out int value) && value >= 0
            ? value
            : throw new FormatException($"{parts[0]} takes one count");

    private static void Reply(double seconds) => Console.WriteLine(FormattableString.Invariant($"ok {seconds:R}"));
}
