using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace KestrelUpgrade.Driver;

/// <summary>
/// HTTP/1.1 clients that never retry, asking GET / over and over and recording every answer: keep-alive clients
/// (one connection each, replaced only when the server answers <c>Connection: close</c>) and new-connection clients
/// (a fresh connection per request). <see cref="SlowAsync"/> adds one GET /slow?ms=N on its own connection, to hold
/// a request in flight across an upgrade.
/// </summary>
internal sealed class HttpLoad(EndPoint server, int keepAliveClients = 2, int newConnectionClients = 3)
{
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);

    private readonly ConcurrentQueue<Sample> _samples = new();
    private volatile bool _stopping;
    private Task _running = Task.CompletedTask;

    public enum Kind
    {
        KeepAlive,
        NewConnection,
        Slow,
    }

    public IReadOnlyCollection<Sample> Samples => _samples;

    public void Start()
    {
        IEnumerable<Task> clients = Enumerable.Range(0, keepAliveClients).Select(_ => Task.Run(KeepAliveClientAsync))
            .Concat(Enumerable.Range(0, newConnectionClients).Select(_ => Task.Run(NewConnectionClientAsync)));
        _running = Task.WhenAll(clients);
    }

    public async Task StopAsync()
    {
        _stopping = true;
        await _running;
    }

    /// <summary>Sends one GET /slow?ms=<paramref name="milliseconds"/> on a new connection and returns once it is sent.</summary>
    /// <returns>The request's outcome to come, recorded with the others as well.</returns>
    public async Task<Task<Sample>> StartSlowAsync(int milliseconds)
    {
        DateTime start = DateTime.UtcNow;
        long started = Stopwatch.GetTimestamp();
        var timeout = new CancellationTokenSource(RequestTimeout + TimeSpan.FromMilliseconds(milliseconds));
        RawHttpConnection connection;
        try
        {
            connection = await RawHttpConnection.ConnectAsync(server, timeout.Token);
            await connection.SendRequestAsync($"/slow?ms={milliseconds.ToString(CultureInfo.InvariantCulture)}", close: true, timeout.Token);
        }
        catch (Exception e) when (IsRequestFailure(e))
        {
            timeout.Dispose();
            return Task.FromResult(Record(Failed(start, started, Kind.Slow, e)));
        }

        return FinishAsync();

        async Task<Sample> FinishAsync()
        {
            using (timeout)
            using (connection)
            {
                try
                {
                    return Record(Answered(start, started, Kind.Slow, await connection.ReadResponseAsync(timeout.Token)));
                }
                catch (Exception e) when (IsRequestFailure(e))
                {
                    return Record(Failed(start, started, Kind.Slow, e));
                }
            }
        }
    }

    /// <summary>One GET / on a new connection, outside the load (recorded all the same).</summary>
    public async Task<Sample> GetOnceAsync()
    {
        DateTime start = DateTime.UtcNow;
        long started = Stopwatch.GetTimestamp();
        try
        {
            using var timeout = new CancellationTokenSource(RequestTimeout);
            using RawHttpConnection connection = await RawHttpConnection.ConnectAsync(server, timeout.Token);
            return Record(Answered(start, started, Kind.NewConnection, await connection.GetAsync("/", close: true, timeout.Token)));
        }
        catch (Exception e) when (IsRequestFailure(e))
        {
            return Record(Failed(start, started, Kind.NewConnection, e));
        }
    }

    private async Task KeepAliveClientAsync()
    {
        RawHttpConnection? connection = null;
        while (!_stopping)
        {
            DateTime start = DateTime.UtcNow;
            long started = Stopwatch.GetTimestamp();
            try
            {
                using var timeout = new CancellationTokenSource(RequestTimeout);
                connection ??= await RawHttpConnection.ConnectAsync(server, timeout.Token);
                Record(Answered(start, started, Kind.KeepAlive, await connection.GetAsync("/", close: false, timeout.Token)));
                if (connection.ClosedByServer)
                {
                    // The server asked this client to move on: the next request goes on a new connection.
                    connection.Dispose();
                    connection = null;
                }
            }
            catch (Exception e) when (IsRequestFailure(e))
            {
                Record(Failed(start, started, Kind.KeepAlive, e));
                connection?.Dispose();
                connection = null;
            }

            await Task.Delay(1);
        }

        connection?.Dispose();
    }

    private async Task NewConnectionClientAsync()
    {
        while (!_stopping)
        {
            await GetOnceAsync();
            await Task.Delay(1);
        }
    }

    private Sample Record(Sample sample)
    {
        _samples.Enqueue(sample);
        return sample;
    }

    private static Sample Answered(DateTime start, long started, Kind kind, RawHttpResponse response)
    {
        string[] words = response.Body.Split(' ');
        return response.StatusCode == 200 && words is ["generation", _, "pid", _]
            && int.TryParse(words[1], CultureInfo.InvariantCulture, out int generation) && int.TryParse(words[3], CultureInfo.InvariantCulture, out int pid)
            ? new Sample(start, Stopwatch.GetElapsedTime(started), kind, generation, pid, null)
            : new Sample(start, Stopwatch.GetElapsedTime(started), kind, 0, 0, $"{response.StatusCode}: {response.Body}");
    }

    private static Sample Failed(DateTime start, long started, Kind kind, Exception e) =>
        new(start, Stopwatch.GetElapsedTime(started), kind, 0, 0, e is OperationCanceledException ? $"no response within {RequestTimeout}" : e.Message);

    private static bool IsRequestFailure(Exception e) => e is IOException or System.Net.Sockets.SocketException or OperationCanceledException;

    /// <summary>One request: when it started, how long it took, who answered (generation, pid), or why it failed.</summary>
    public sealed record Sample(DateTime Start, TimeSpan Latency, Kind Kind, int Generation, int ProcessId, string? Error)
    {
        public DateTime End => Start + Latency;
    }
}
