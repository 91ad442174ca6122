using System.Globalization;

namespace KestrelUpgrade.Driver;

/// <summary>What the load saw: who answered how often, failures, and the slowest request inside and outside upgrades.</summary>
internal sealed class LoadReport(IReadOnlyCollection<HttpLoad.Sample> samples, IReadOnlyList<(DateTime Start, DateTime End)> upgrades)
{
    public int Requests => samples.Count;

    public IReadOnlyList<HttpLoad.Sample> Failures { get; } = [.. samples.Where(s => s.Error is not null)];

    /// <summary>Requests answered per (generation, pid), in generation order.</summary>
    public IReadOnlyList<(int Generation, int ProcessId, int Count)> ServedBy { get; } =
        [.. samples.Where(s => s.Error is null).GroupBy(s => (s.Generation, s.ProcessId)).OrderBy(g => g.Key.Generation).Select(g => (g.Key.Generation, g.Key.ProcessId, g.Count()))];

    public int KeepAliveRequests => samples.Count(s => s.KeepAlive);

    public TimeSpan LongestDuringUpgrades => Longest(during: true);

    public TimeSpan LongestOutsideUpgrades => Longest(during: false);

    public IEnumerable<string> Lines()
    {
        foreach ((int generation, int pid, int count) in ServedBy)
        {
            yield return $"served by generation {generation} (pid {pid}): {count}";
        }

        yield return $"requests: {Requests} ({KeepAliveRequests} keep-alive, {Requests - KeepAliveRequests} on new connections)";
        yield return $"failed requests: {Failures.Count}";
        foreach (HttpLoad.Sample failure in Failures.Take(5))
        {
            yield return $"  failed at {failure.Start:HH:mm:ss.fff} ({(failure.KeepAlive ? "keep-alive" : "new connection")}): {failure.Error}";
        }

        yield return string.Create(CultureInfo.InvariantCulture,
            $"longest request: {LongestDuringUpgrades.TotalMilliseconds:F1} ms during upgrades, {LongestOutsideUpgrades.TotalMilliseconds:F1} ms outside them");
        if (samples.OrderByDescending(s => s.Latency).FirstOrDefault() is { } slowest)
        {
            yield return string.Create(CultureInfo.InvariantCulture,
                $"  slowest: started {slowest.Start:HH:mm:ss.fff}, {(slowest.KeepAlive ? "keep-alive" : "new connection")}, answered by generation {slowest.Generation}");
        }
    }

    private TimeSpan Longest(bool during) =>
        samples.Where(s => upgrades.Any(u => s.Start < u.End && s.End > u.Start) == during).Select(s => s.Latency).DefaultIfEmpty().Max();
}
