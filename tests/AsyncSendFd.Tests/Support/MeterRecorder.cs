using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace AsyncSendFd.Tests.Support;

/// <summary>
/// Records what one meter's instruments measure, read with a <see cref="MeterListener"/> as an exporter would.
/// <see cref="OfThisTest"/> keeps only what the test's own flow measured: its async-local scope flows into every
/// await, continuation and <c>Task.Run</c> the test starts, so tests running in parallel, which share the process's
/// instruments, do not count each other's work. <see cref="OfProcess"/> keeps everything (for the engine's own
/// thread, in a non-parallel collection).
/// </summary>
internal sealed class MeterRecorder : IDisposable
{
    private static readonly AsyncLocal<MeterRecorder?> Scope = new();

    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<Recorded> _recorded = new();
    private readonly bool _thisTestOnly;

    private MeterRecorder(string meterName, bool thisTestOnly)
    {
        _thisTestOnly = thisTestOnly;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == meterName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.Start();
    }

    /// <summary>Starts recording what this test's flow measures; call it from the test method itself.</summary>
    public static MeterRecorder OfThisTest(string meterName)
    {
        var recorder = new MeterRecorder(meterName, thisTestOnly: true);
        Scope.Value = recorder;
        return recorder;
    }

    /// <summary>Starts recording everything the process measures on <paramref name="meterName"/>.</summary>
    public static MeterRecorder OfProcess(string meterName) => new(meterName, thisTestOnly: false);

    /// <summary>Every measurement of <paramref name="instrument"/> so far, in order.</summary>
    public IReadOnlyList<Recorded> Of(string instrument) => [.. _recorded.Where(r => r.Instrument == instrument)];

    /// <summary>The sum of <paramref name="instrument"/>'s measurements, those with the tag <paramref name="key"/>=<paramref name="value"/> only if given.</summary>
    public double Sum(string instrument, string? key = null, object? value = null) =>
        Of(instrument).Where(r => key is null || Equals(r.Tag(key), value)).Sum(r => r.Value);

    /// <summary>Waits up to <paramref name="timeout"/> for a first measurement of <paramref name="instrument"/>, for work that ends on another thread after the test saw its effect.</summary>
    public async Task<IReadOnlyList<Recorded>> WaitForAsync(string instrument, TimeSpan timeout)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (Of(instrument) is { Count: 0 })
        {
            Assert.True(watch.Elapsed < timeout, $"nothing measured on {instrument} within {timeout}");
            await Task.Delay(10);
        }

        return Of(instrument);
    }

    /// <summary>Asks every observable instrument for its value now; the answers are recorded like any measurement.</summary>
    public void Observe() => _listener.RecordObservableInstruments();

    /// <summary>Collects the observable instruments now and returns what untagged <paramref name="instrument"/> reported.</summary>
    public double ObserveNow(string instrument)
    {
        Observe();
        return Of(instrument).Last().Value;
    }

    /// <summary>The value <paramref name="instrument"/> reported last for the tag <paramref name="key"/>=<paramref name="value"/>.</summary>
    public double Latest(string instrument, string key, object value) =>
        Of(instrument).Last(r => Equals(r.Tag(key), value)).Value;

    public void Dispose()
    {
        _listener.Dispose();
        if (Scope.Value == this)
        {
            Scope.Value = null;
        }
    }

    private void Record<T>(Instrument instrument, T value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        where T : struct, IConvertible
    {
        if (!_thisTestOnly || Scope.Value == this)
        {
            _recorded.Enqueue(new Recorded(instrument.Name, value.ToDouble(null), [.. tags]));
        }
    }

    public sealed record Recorded(string Instrument, double Value, KeyValuePair<string, object?>[] Tags)
    {
        public object? Tag(string key) => Tags.FirstOrDefault(t => t.Key == key).Value;
    }
}
