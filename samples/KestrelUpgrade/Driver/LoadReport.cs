using System.Globalization;

namespace KestrelUpgrade.Driver;

/// <summary>
/// What the load saw: who answered how often, every failure, and the slowest request inside and outside upgrades
/// (GET / only: a slow request is slow on purpose, and is reported on its own line).
/// </summary>
internal sealed class LoadReport(IReadOnlyCollection<HttpLoad.Sample> samples, IReadOnlyList<(DateTime Start, DateTime End)> upgrades)
{
    public int Requests => samples.Count;

    public IReadOnlyList<HttpLoad.Sample> Failures { get; } = [.. samples.Where(s => s.Error is not null)];

    /// <summary>Requests answered per (generation, pid), in generation order.</summary>
    public IReadOnlyList<(int Generation, int ProcessId, int Count)> ServedBy { get; } =
        [.. samples.Where(s => s.Error is null).GroupBy(s => (s.Generation, s.ProcessId)).OrderBy(g => g.Key.Generation).Select(g => (g.Key.Generation, g.Key.ProcessId, g.Count()))];

    public int Count(HttpLoad.Kind kind) => samples.Count(s => s.Kind == kind);

    public IReadOnlyList<HttpLoad.Sample> Slow => [.. samples.Where(s => s.Kind == HttpLoad.Kind.Slow).OrderBy(s => s.Start)];

    public TimeSpan LongestDuringUpgrades => Longest(during: true);

    public TimeSpan LongestOutsideUpgrades => Longest(during: false);

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
            $"longest request: {LongestDuringUpgrades.TotalMilliseconds:F1} ms during upgrades, {LongestOutsideUpgrades.TotalMilliseconds:F1} ms outside them");
        foreach (HttpLoad.Sample slow in Slow)
        {
            string outcome = slow.Error is null ? $"answered by generation {slow.Generation}" : $"FAILED ({slow.Error})";
            yield return string.Create(CultureInfo.InvariantCulture,
                $"slow request started {slow.Start:HH:mm:ss.fff}: {outcome} after {slow.Latency.TotalMilliseconds:F0} ms");
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
