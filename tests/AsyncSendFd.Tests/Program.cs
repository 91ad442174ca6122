using AsyncSendFd.Benchmarks.Chaos;

namespace AsyncSendFd.Tests;

/// <summary>
/// The test assembly doubles as the chaos run's process: <c>dotnet AsyncSendFd.Tests.dll chaos SECONDS [--seed N]</c>
/// (the options of the benchmarks' <c>--chaos</c>). The run holds its whole process at the descriptor limit, where .NET
/// cannot start a thread and the runtime aborts if its thread pool must add a worker, so it gets a process of its own.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args is not ["chaos", .. string[] options] || !OperatingSystem.IsLinux())
        {
            Console.Error.WriteLine("usage (Linux): chaos SECONDS [--seed N] [--without FAULT,...]");
            return 2;
        }

        return ChaosRunner.RunFromCommandLine(options);
    }
}
