using Microsoft.Extensions.Logging;

namespace AsyncSendFd.Hosting.AspNetCore.Internal;

/// <summary>What the Kestrel glue logs, generated at compile time.</summary>
internal static partial class Log
{
    [LoggerMessage(101, LogLevel.Information, "Kestrel endpoint {Endpoint}: adopted the listener the previous generation handed over")]
    public static partial void Adopted(ILogger logger, string endpoint);

    [LoggerMessage(102, LogLevel.Information, "Kestrel endpoint {Endpoint}: bound a new listener")]
    public static partial void Bound(ILogger logger, string endpoint);

    [LoggerMessage(103, LogLevel.Information, "Handed over: stopped accepting on {Listeners} listeners; draining {Connections} open connections ({GoAway} HTTP/2 told to go away)")]
    public static partial void Draining(ILogger logger, int listeners, int connections, int goAway);

    [LoggerMessage(104, LogLevel.Information, "Drained: every connection closed within {Milliseconds:F0} ms")]
    public static partial void Drained(ILogger logger, double milliseconds);

    [LoggerMessage(105, LogLevel.Information, "Drain window ({Window}) over with {Connections} connections open: Kestrel now closes the idle ones, and requests in flight finish within the shutdown timeout")]
    public static partial void DrainWindowOver(ILogger logger, TimeSpan window, int connections);

    [LoggerMessage(106, LogLevel.Warning, "The host's shutdown timeout cut the drain window short with {Connections} connections open")]
    public static partial void DrainCutShort(ILogger logger, int connections);

    [LoggerMessage(107, LogLevel.Warning, "Kestrel endpoint {Endpoint}: the socket file could not be removed: {Reason}")]
    public static partial void SocketFileNotRemoved(ILogger logger, string endpoint, string reason);
}
