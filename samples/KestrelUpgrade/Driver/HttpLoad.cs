using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace KestrelUpgrade.Driver;

/// <summary>
/// HTTP/1.1 clients that never retry, asking over and over and recording every answer: keep-alive clients (GET /,
/// one connection each, replaced only when the server answers <c>Connection: close</c>), new-connection clients
/// (GET /, a fresh connection per request), and slow clients (GET /slow?ms=N, a fresh connection per request,
/// started in turn so that one is always in flight, across any upgrade).
/// </summary>
internal sealed class HttpLoad(EndPoint server, int keepAliveClients = 2, int newConnectionClients = 3, int slowClients = 4, int slowMilliseconds = 2000)
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
            .Concat(Enumerable.Range(0, newConnectionClients).Select(_ => Task.Run(NewConnectionClientAsync)))
            .Concat(Enumerable.Range(0, slowClients).Select(i => Task.Run(() => SlowClientAsync(TimeSpan.FromMilliseconds(slowMilliseconds * i / slowClients)))));
        _running = Task.WhenAll(clients);
    }

    public async Task StopAsync()
    {
        _stopping = true;
        await _running;
    }

    /// <summary>One request on a new connection (recorded with the others).</summary>
    private async Task<Sample> NewConnectionRequestAsync(string path, Kind kind, TimeSpan timeout)
    {
        DateTime start = DateTime.UtcNow;
        long started = Stopwatch.GetTimestamp();
        try
        {
            using var cancellation = new CancellationTokenSource(timeout);
            using RawHttpConnection connection = await RawHttpConnection.ConnectAsync(server, cancellation.Token);
            return Record(Answered(start, started, kind, await connection.GetAsync(path, close: true, cancellation.Token)));
        }
        catch (Exception e) when (IsRequestFailure(e))
        {
            return Record(Failed(start, started, kind, e));
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
            await NewConnectionRequestAsync("/", Kind.NewConnection, RequestTimeout);
            await Task.Delay(1);
        }
    }

    private async Task SlowClientAsync(TimeSpan offset)
    {
        await Task.Delay(offset);
        string path = $"/slow?ms={slowMilliseconds.ToString(CultureInfo.InvariantCulture)}";
        while (!_stopping)
        {
            await NewConnectionRequestAsync(path, Kind.Slow, RequestTimeout + TimeSpan.FromMilliseconds(slowMilliseconds));
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
        new(start, Stopwatch.GetElapsedTime(started), kind, 0, 0, e is OperationCanceledException ? "no response in time" : e.Message);

    private static bool IsRequestFailure(Exception e) => e is IOException or System.Net.Sockets.SocketException or OperationCanceledException;

    /// <summary>One request: when it started, how long it took, who answered (generation, pid), or why it failed.</summary>
    public sealed record Sample(DateTime Start, TimeSpan Latency, Kind Kind, int Generation, int ProcessId, string? Error)
    {
        public DateTime End => Start + Latency;
    }
}
