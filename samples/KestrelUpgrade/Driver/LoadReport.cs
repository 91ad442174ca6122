using System.Globalization;

namespace KestrelUpgrade.Driver;

/// <summary>One upgrade as the operator saw it: asked for, took effect (or was refused), and over (the old generation exited).</summary>
/// <param name="Generation">The generation serving when the upgrade was asked for.</param>
internal sealed record UpgradeSpan(int Generation, DateTime Start, DateTime TookEffect, DateTime End, bool Refused = false);

/// <summary>
/// What the load saw: who answered how often, every failure, the slowest GET / inside and outside upgrades, and the
/// slow requests in flight across each upgrade.
/// </summary>
internal sealed class LoadReport(IReadOnlyCollection<HttpLoad.Sample> samples, IReadOnlyList<UpgradeSpan> upgrades)
{
    public int Requests => samples.Count;

    public IReadOnlyList<HttpLoad.Sample> Failures { get; } = [.. samples.Where(s => s.Error is not null)];

    /// <summary>Requests answered per (generation, pid), in generation order.</summary>
    public IReadOnlyList<(int Generation, int ProcessId, int Count)> ServedBy { get; } =
        [.. samples.Where(s => s.Error is null).GroupBy(s => (s.Generation, s.ProcessId)).OrderBy(g => g.Key.Generation).Select(g => (g.Key.Generation, g.Key.ProcessId, g.Count()))];

    public TimeSpan LongestDuringUpgrades => Longest(during: true);

    public TimeSpan LongestOutsideUpgrades => Longest(during: false);

    public int Count(HttpLoad.Kind kind) => samples.Count(s => s.Kind == kind);

    /// <summary>Slow requests in flight when the upgrade took effect (or was refused).</summary>
    public IReadOnlyList<HttpLoad.Sample> SlowAcross(UpgradeSpan upgrade) =>
        [.. samples.Where(s => s.Kind == HttpLoad.Kind.Slow && s.Start < upgrade.TookEffect && s.End > upgrade.TookEffect)];

    /// <summary>
    /// Whether slow requests were in flight across every upgrade, every one answered, and some by the generation that
    /// was serving when the upgrade was asked for (the others had gone to the successor, which accepts once it listens).
    /// </summary>
    public bool SlowRequestsAcrossEveryUpgradeAnswered =>
        upgrades.All(u => SlowAcross(u) is { Count: > 0 } across && across.All(s => s.Error is null) && across.Any(s => s.Generation == u.Generation));

    public IEnumerable<string> Lines()
    {
        foreach ((int generation, int pid, int count) in ServedBy)
        {
            yield return $"served by generation {generation} (pid {pid}): {count}";
        }

        yield return $"requests: {Requests} ({Count(HttpLoad.Kind.KeepAlive)} keep-alive, {Count(HttpLoad.Kind.NewConnection)} on new connections, {Count(HttpLoad.Kind.Slow)} slow)";
        yield return $"failed requests: {Failures.Count}";
        foreach (HttpLoad.Sample failure in Failures.Take(5))
        {
            yield return $"  failed at {failure.Start:HH:mm:ss.fff} ({Describe(failure.Kind)}): {failure.Error}";
        }

        yield return string.Create(CultureInfo.InvariantCulture,
            $"longest request: {LongestDuringUpgrades.TotalMilliseconds:F1} ms during upgrades, {LongestOutsideUpgrades.TotalMilliseconds:F1} ms outside them (slow requests aside)");
        foreach (UpgradeSpan upgrade in upgrades)
        {
            IReadOnlyList<HttpLoad.Sample> across = SlowAcross(upgrade);
            string answered = string.Join(", ", across.GroupBy(s => s.Error is null ? $"generation {s.Generation}" : "nobody (failed)").Select(g => $"{g.Key}: {g.Count()}"));
            yield return $"slow requests in flight across the {(upgrade.Refused ? "refused upgrade" : "upgrade")} of generation {upgrade.Generation}: {across.Count}, answered by {answered}";
        }
    }

    private static string Describe(HttpLoad.Kind kind) => kind switch
    {
        HttpLoad.Kind.KeepAlive => "keep-alive",
        HttpLoad.Kind.NewConnection => "new connection",
        _ => "slow request",
    };

    private TimeSpan Longest(bool during) =>
        samples.Where(s => s.Kind != HttpLoad.Kind.Slow && upgrades.Any(u => s.Start < u.End && s.End > u.Start) == during)
            .Select(s => s.Latency).DefaultIfEmpty().Max();
}
