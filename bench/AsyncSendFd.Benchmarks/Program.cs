using AsyncSendFd.Benchmarks.Quick;
using BenchmarkDotNet.Running;

namespace AsyncSendFd.Benchmarks;

public static class Program
{
    /// <summary>
    /// <c>--quick</c>: the Stopwatch harness (under a minute, one line per scenario with targets).
    /// Anything else goes to BenchmarkDotNet's switcher, e.g. <c>--filter '*'</c>.
    /// </summary>
    public static int Main(string[] args)
    {
        if (args.Contains("--quick"))
        {
            return QuickHarness.Run(args);
        }

        _ = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
