using System.Diagnostics.Metrics;
using AsyncSendFd.Hosting.Tests.Support;
using AsyncSendFd.Tests.Support;
using static AsyncSendFd.Hosting.Tests.Support.Timeouts;

namespace AsyncSendFd.Hosting.Tests;

/// <summary>
/// The <c>AsyncSendFd.Hosting</c> meter, read with a <see cref="MeterListener"/> after known upgrades: each upgrade's
/// outcome and duration, the descriptors an offer handed over, and the generation each serving process reports.
/// </summary>
public sealed class MetricsTests
{
    private const string Meter = "AsyncSendFd.Hosting";

    [Fact]
    public async Task ASuccessfulUpgrade_ShowsItsOutcome_ItsDuration_TheDescriptorsHandedOver_AndTheNewGeneration()
    {
        using MeterRecorder metrics = MeterRecorder.OfThisTest(Meter);
        await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady);
        IReadOnlyList<double> before = ObserveGenerations(metrics);

        await serving.AssertNextUpgradeSucceedsAsync();

        // The serving generation records the outcome as its hand-over returns, a moment after the successor saw the commit.
        MeterRecorder.Recorded upgrade = Assert.Single(await metrics.WaitForAsync("asyncsendfd.upgrades", Guard));
        Assert.Equal((1.0, "succeeded"), (upgrade.Value, upgrade.Tag("outcome")));
        MeterRecorder.Recorded duration = Assert.Single(metrics.Of("asyncsendfd.upgrade.duration"));
        Assert.Equal("succeeded", duration.Tag("outcome"));
        Assert.InRange(duration.Value, 1e-6, Guard.TotalSeconds);
        Assert.Equal(2, metrics.Sum("asyncsendfd.upgrade.descriptors")); // "http" and the control listener

        // Generation 1 retired and generation 2 serves (other tests' upgraders, if any are still alive, stay as they were).
        IReadOnlyList<double> after = ObserveGenerations(metrics);
        Assert.Equal(before.Count(g => g == 1) - 1, after.Count(g => g == 1));
        Assert.Equal(before.Count(g => g == 2) + 1, after.Count(g => g == 2));
    }

    [Fact]
    public async Task ARefusedUpgrade_ShowsItsOutcome_AndHandsNothingOver()
    {
        using MeterRecorder metrics = MeterRecorder.OfThisTest(Meter);
        await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady, options => options.AuthorizeSuccessor = _ => false);

        await Assert.ThrowsAsync<InvalidOperationException>(() => serving.NewSuccessor().StartAsync());

        MeterRecorder.Recorded upgrade = Assert.Single(await metrics.WaitForAsync("asyncsendfd.upgrades", Guard));
        Assert.Equal("credentials_refused", upgrade.Tag("outcome"));
        Assert.Equal("credentials_refused", Assert.Single(metrics.Of("asyncsendfd.upgrade.duration")).Tag("outcome"));
        Assert.Empty(metrics.Of("asyncsendfd.upgrade.descriptors"));
        await serving.AssertStillServesAsync();
    }

    [Fact]
    public async Task UpgradeAsync_OnARetiredGeneration_ShowsNotServing()
    {
        using MeterRecorder metrics = MeterRecorder.OfThisTest(Meter);
        await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady);
        await serving.AssertNextUpgradeSucceedsAsync();
        await metrics.WaitForAsync("asyncsendfd.upgrades", Guard);

        UpgradeResult result = await serving.Upgrader.UpgradeAsync();

        Assert.Equal(UpgradeOutcome.NotServing, result.Outcome);
        Assert.Equal(["succeeded", "not_serving"], metrics.Of("asyncsendfd.upgrades").Select(r => r.Tag("outcome")));
    }

    [Fact]
    public async Task EveryInstrument_HasAUnitAndADescription()
    {
        var published = new List<Instrument>();
        using (var listener = new MeterListener())
        {
            listener.InstrumentPublished = (instrument, _) =>
            {
                if (instrument.Meter.Name == Meter)
                {
                    published.Add(instrument);
                }
            };
            await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady); // creates the meter
            listener.Start();
        }

        Assert.Equal(
            ["asyncsendfd.generation", "asyncsendfd.upgrade.descriptors", "asyncsendfd.upgrade.duration", "asyncsendfd.upgrades"],
            published.Select(i => i.Name).Order(StringComparer.Ordinal));
        Assert.All(published, i => Assert.False(string.IsNullOrWhiteSpace(i.Unit)));
        Assert.All(published, i => Assert.False(string.IsNullOrWhiteSpace(i.Description)));
        Assert.Equal("s", published.Single(i => i.Name == "asyncsendfd.upgrade.duration").Unit);
    }

    private static IReadOnlyList<double> ObserveGenerations(MeterRecorder metrics)
    {
        int seen = metrics.Of("asyncsendfd.generation").Count;
        metrics.Observe();
        return [.. metrics.Of("asyncsendfd.generation").Skip(seen).Select(r => r.Value)];
    }
}
