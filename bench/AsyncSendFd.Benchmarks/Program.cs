using AsyncSendFd.Benchmarks.Quick;
using BenchmarkDotNet.Running;

namespace AsyncSendFd.Benchmarks;

public static class Program
{
    /// <summary>
    /// <c>--quick</c>: the Stopwatch harness (under a minute, one line per scenario with targets).
    /// <c>--soak N</c>: N descriptors (default 1,000,000) through every API shape, watching for leaks.
    /// <c>--chaos SECONDS [--seed N]</c>: the chaos run, every invariant checked under injected faults; exits 1 on any violation, or when no round ran after the warm-up.
    /// <c>--scale-worker lib|net</c>: a child of the quick harness's scale scenario, driven over stdin.
    /// <c>--shm-worker PATH BUFFER</c>: the other process of the shared-memory scenario (<c>--quick --only shm</c>).
    /// Anything else goes to BenchmarkDotNet's switcher, e.g. <c>--filter '*'</c>.
    /// </summary>
    public static int Main(string[] args)
    {
        int soak = Array.IndexOf(args, "--soak");
        if (soak >= 0)
        {
            return Soak.SoakRunner.Run(soak + 1 < args.Length ? long.Parse(args[soak + 1], System.Globalization.CultureInfo.InvariantCulture) : 1_000_000);
        }

        int chaos = Array.IndexOf(args, "--chaos");
        if (chaos >= 0)
        {
            return Chaos.ChaosRunner.RunFromCommandLine(args[(chaos + 1)..]);
        }

        int worker = Array.IndexOf(args, "--scale-worker");
        if (worker >= 0)
        {
            return ScaleWorker.Run(worker + 1 < args.Length ? args[worker + 1] : string.Empty);
        }

        int shmWorker = Array.IndexOf(args, "--shm-worker");
        if (shmWorker >= 0)
        {
            return SharedMemoryWorker.Run(args[(shmWorker + 1)..]);
        }

        if (args.Contains("--quick"))
        {
            return QuickHarness.Run(args);
        }

        _ = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
