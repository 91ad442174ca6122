using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text;

namespace AsyncSendFd.Hosting.Diagnostics;

/// <summary>
/// The hosting package's meter, <c>AsyncSendFd.Hosting</c>: upgrades by outcome and how long they took, descriptors
/// handed to successors, and the generation this process serves as. The README lists the instruments.
/// </summary>
/// <remarks>Upgrades are rare, so nothing here is on a hot path; the core library's meter counts the messages they take.</remarks>
internal static class UpgradeMetrics
{
    public const string MeterName = "AsyncSendFd.Hosting";

    private static readonly Meter Meter = new(MeterName, typeof(UpgradeMetrics).Assembly.GetName().Version?.ToString(3));

    private static readonly Counter<long> Upgrades = Meter.CreateCounter<long>(
        "asyncsendfd.upgrades", "{upgrade}", "Upgrades asked of this generation (SIGHUP, UpgradeAsync, a client's request, a successor connecting), by outcome.");

    private static readonly Histogram<double> Duration = Meter.CreateHistogram(
        "asyncsendfd.upgrade.duration",
        "s",
        "How long upgrades took, from the request (or the successor's hello) to the outcome (for a success: until the successor was ready and committed), by outcome. Connections that never said a hello of this protocol are counted, not timed.",
        tags: null,
        new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120] });

    private static readonly Counter<long> DescriptorsHandedOver = Meter.CreateCounter<long>(
        "asyncsendfd.upgrade.descriptors", "{descriptor}", "Descriptors sent to successors in hand-over offers: the shared ones and the control listener.");

    // Created with the others; collected by its callback.
    private static readonly ObservableGauge<int> ServingGeneration = Meter.CreateObservableGauge(
        "asyncsendfd.generation", ObserveGenerations, "{generation}", "The generation this process serves as (1 for the first, one more per upgrade); none before it is ready or once it retired.");

    private static readonly Lock ServingLock = new();
    private static readonly List<WeakReference<Upgrader>> Serving = [];

    /// <summary>Runs one upgrade and records how long it took, by its outcome.</summary>
    public static async Task<UpgradeResult> TimeAsync(Func<Task<UpgradeResult>> upgrade)
    {
        long started = Stopwatch.GetTimestamp();
        UpgradeResult result = await upgrade().ConfigureAwait(false);
        Duration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, new KeyValuePair<string, object?>("outcome", TagValue(result.Outcome)));
        return result;
    }

    /// <summary>An upgrade, or a successor's or a client's attempt at one, ended with <paramref name="outcome"/>.</summary>
    public static void Ended(UpgradeOutcome outcome) => Upgrades.Add(1, new KeyValuePair<string, object?>("outcome", TagValue(outcome)));

    /// <summary>An offer carrying <paramref name="descriptors"/> went to a successor.</summary>
    public static void HandedOver(int descriptors) => DescriptorsHandedOver.Add(descriptors);

    /// <summary><paramref name="upgrader"/> serves now; the gauge reports its generation until it retires or is disposed.</summary>
    public static void StartedServing(Upgrader upgrader)
    {
        lock (ServingLock)
        {
            Serving.Add(new WeakReference<Upgrader>(upgrader));
        }
    }

    /// <summary>The outcome's name in the snake case of OpenTelemetry's attribute values: <c>CredentialsRefused</c> is <c>credentials_refused</c>.</summary>
    private static string TagValue(UpgradeOutcome outcome)
    {
        string name = outcome.ToString();
        var snake = new StringBuilder(name.Length + 8);
        for (int i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0)
            {
                snake.Append('_');
            }

            snake.Append(char.ToLowerInvariant(name[i]));
        }

        return snake.ToString();
    }

    private static List<Measurement<int>> ObserveGenerations()
    {
        var generations = new List<Measurement<int>>();
        lock (ServingLock)
        {
            // Serving is a one-way stage: an upgrader that retired or was disposed never serves again, so it leaves the list.
            Serving.RemoveAll(entry => !entry.TryGetTarget(out Upgrader? upgrader) || !upgrader.IsServing);
            foreach (WeakReference<Upgrader> entry in Serving)
            {
                if (entry.TryGetTarget(out Upgrader? upgrader))
                {
                    generations.Add(new Measurement<int>(upgrader.Generation));
                }
            }
        }

        return generations;
    }
}
