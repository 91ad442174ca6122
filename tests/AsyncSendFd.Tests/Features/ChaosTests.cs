using System.Runtime.Versioning;
using AsyncSendFd.Benchmarks.Chaos;
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
[Collection(DescriptorsCollection.Name)]
public sealed class ChaosTests(ITestOutputHelper output)
{
    [LinuxFact]
    [Trait("Category", "Stress")]
    [SupportedOSPlatform("linux")]
    public async Task ChaosRun_OfAFewRounds_KeepsEveryInvariant()
    {
        int seed = Random.Shared.Next();
        using var log = new StringWriter();
        ChaosReport report = await ChaosRunner.RunAsync(new ChaosOptions(TimeSpan.FromSeconds(10), seed, TimeSpan.FromSeconds(3)), log);
        output.WriteLine(log.ToString());

        Assert.True(report.Rounds >= 1, "the run did no round after its warm-up");
        Assert.True(report.Violations == 0, $"{report.Violations} violations (seed {seed}); the first of each kind:\n{string.Join("\n", report.Examples)}");
    }
}
