using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace KestrelUpgrade.Driver;

/// <summary>
/// HTTP clients that keep asking GET / and record every answer: keep-alive clients (one pooled connection
/// each) and new-connection clients ("Connection: close", a fresh TCP connection per request).
/// </summary>
internal sealed class HttpLoad(Uri server, int keepAliveClients = 2, int newConnectionClients = 2)
{
    private readonly ConcurrentQueue<Sample> _samples = new();
    private volatile bool _stopping;
    private Task _running = Task.CompletedTask;

    public IReadOnlyCollection<Sample> Samples => _samples;

    public void Start()
    {
        IEnumerable<Task> clients = Enumerable.Range(0, keepAliveClients).Select(_ => Task.Run(() => RunAsync(keepAlive: true)))
            .Concat(Enumerable.Range(0, newConnectionClients).Select(_ => Task.Run(() => RunAsync(keepAlive: false))));
        _running = Task.WhenAll(clients);
    }

    public async Task StopAsync()
    {
        _stopping = true;
        await _running;
    }

    private async Task RunAsync(bool keepAlive)
    {
        using var client = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = Timeout.InfiniteTimeSpan }) { Timeout = TimeSpan.FromSeconds(10) };
        client.DefaultRequestHeaders.ConnectionClose = !keepAlive;
        while (!_stopping)
        {
            DateTime start = DateTime.UtcNow;
            long started = Stopwatch.GetTimestamp();
            try
            {
                using HttpResponseMessage response = await client.GetAsync(server);
                string body = await response.Content.ReadAsStringAsync();
                string[] words = body.Split(' ');
                _samples.Enqueue(response.IsSuccessStatusCode && words is ["generation", _, "pid", _]
                    ? new Sample(start, Stopwatch.GetElapsedTime(started), keepAlive, int.Parse(words[1], CultureInfo.InvariantCulture), int.Parse(words[3], CultureInfo.InvariantCulture), null)
                    : new Sample(start, Stopwatch.GetElapsedTime(started), keepAlive, 0, 0, $"{(int)response.StatusCode}: {body}"));
            }
            catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException)
            {
                _samples.Enqueue(new Sample(start, Stopwatch.GetElapsedTime(started), keepAlive, 0, 0, e.Message));
            }

            await Task.Delay(1);
        }
    }

    /// <summary>One request: when it started, how long it took, who answered (generation, pid), or why it failed.</summary>
    public sealed record Sample(DateTime Start, TimeSpan Latency, bool KeepAlive, int Generation, int ProcessId, string? Error)
    {
        public DateTime End => Start + Latency;
    }
}
