using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;
using AsyncSendFd.Tests.Support;
using Xunit.Abstractions;

namespace AsyncSendFd.Tests.Features;

/// <summary>
/// The benchmarks' chaos run (<c>--chaos SECONDS</c>), briefly: socket pairs of every type under a random mix of blocking and
/// async calls, with cancellations, disposals of sockets in use and of handles being sent, peers closing midway and the
/// process held at its descriptor limit. Every descriptor sent must arrive exactly once or its send report failure, every
/// receive return a whole message or a documented exception, no call outlive its socket's disposal by over a second, and
/// the descriptors and threads return to their baseline after every round. The output names each violation and the seed.
/// </summary>
/// <remarks>
/// The run is a child process (see <see cref="Program"/>): it holds its whole process at the descriptor limit, where no
/// .NET thread can start and the runtime aborts if its thread pool must add a worker (bench/README.md, Chaos). Should
/// that happen, this test fails with the run's output instead of taking the test host down, as it once did. It still runs
/// in <see cref="DescriptorsCollection"/>, alone, so that no other test's load makes its timing checks fail.
/// </remarks>
[Collection(DescriptorsCollection.Name)]
public sealed class ChaosTests(ITestOutputHelper output)
{
    private static readonly TimeSpan RunLimit = TimeSpan.FromMinutes(3);

    [LinuxFact]
    [Trait("Category", "Stress")]
    [SupportedOSPlatform("linux")]
    public async Task ChaosRun_OfAFewRounds_KeepsEveryInvariant()
    {
        int seed = Random.Shared.Next();
        var start = new ProcessStartInfo(Environment.ProcessPath ?? "dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string argument in new[] { typeof(Program).Assembly.Location, "chaos", "10", "--seed", seed.ToString(CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(argument);
        }

        using Process run = Process.Start(start) ?? throw new InvalidOperationException("the chaos run did not start");
        Task<string> stdout = run.StandardOutput.ReadToEndAsync();
        Task<string> stderr = run.StandardError.ReadToEndAsync();
        try
        {
            await run.WaitForExitAsync().WaitAsync(RunLimit);
        }
        catch (TimeoutException)
        {
            run.Kill();
            await run.WaitForExitAsync();
            Assert.Fail($"the chaos run (seed {seed}) did not end within {RunLimit}:\n{await stdout}{await stderr}");
        }

        string log = await stdout + await stderr;
        output.WriteLine(log);
        Assert.True(run.ExitCode == 0, $"the chaos run (seed {seed}) exited with {run.ExitCode}:\n{log}");
        Assert.Contains("chaos verdict: PASS", log, StringComparison.Ordinal); // no violation, and a round after the warm-up
    }
}
