using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace AsyncSendFd.Hosting.Tests.Support;

/// <summary>
/// Keeps what the upgrader logs: for a successor that connected on its own (not started by UpgradeAsync) the log is
/// where the serving generation reports how the hand-over ended.
/// </summary>
internal sealed class ListLogger : ILogger<Upgrader>
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyCollection<string> Lines => _lines;

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        _lines.Enqueue($"{logLevel}: {formatter(state, exception)}");

    /// <summary>Waits (up to the guard) for a line containing <paramref name="text"/>, and returns it.</summary>
    public async Task<string> WaitForAsync(string text)
    {
        DateTime deadline = DateTime.UtcNow + Timeouts.Guard;
        while (DateTime.UtcNow < deadline)
        {
            if (_lines.FirstOrDefault(line => line.Contains(text, StringComparison.Ordinal)) is { } found)
            {
                return found;
            }

            await Task.Delay(20);
        }

        Assert.Fail($"No log line with '{text}'. Logged:\n{string.Join('\n', _lines)}");
        return "";
    }
}
