using Microsoft.Extensions.Logging;

namespace AsyncSendFd.Hosting.AspNetCore.Internal;

/// <summary>What the Kestrel glue logs, generated at compile time.</summary>
internal static partial class Log
{
    [LoggerMessage(101, LogLevel.Information, "Kestrel endpoint {Endpoint}: adopted the listener the previous generation handed over")]
    public static partial void Adopted(ILogger logger, string endpoint);

    [LoggerMessage(102, LogLevel.Information, "Kestrel endpoint {Endpoint}: bound a new listener")]
    public static partial void Bound(ILogger logger, string endpoint);
}
