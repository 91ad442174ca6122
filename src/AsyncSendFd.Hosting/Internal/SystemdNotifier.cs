using System.Diagnostics;
using System.Net.Sockets;
using AsyncSendFd.Systemd;
using Microsoft.Extensions.Logging;

namespace AsyncSendFd.Hosting.Internal;

/// <summary>
/// What the upgrader tells the service manager (sd_notify): <c>READY=1</c> with <c>MAINPID=</c> when a generation
/// serves, <c>RELOADING=1</c> when an upgrade starts (as <c>Type=notify-reload</c> expects of a reload), and
/// <c>READY=1</c> with a <c>STATUS=</c> line when it ends. A manager that cannot be told is logged, never fatal.
/// </summary>
internal static class SystemdNotifier
{
    public static async Task NotifyAsync(ILogger logger, string state)
    {
        try
        {
            await SystemdNotify.NotifyAsync(state).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or NotSupportedException or IOException)
        {
            Log.NotifyFailed(logger, e.Message);
        }
    }

    /// <summary><c>RELOADING=1</c> with <c>MONOTONIC_USEC=</c>, which sd_notify(3) requires with it: CLOCK_MONOTONIC in microseconds.</summary>
    public static string Reloading() => $"RELOADING=1\nMONOTONIC_USEC={MonotonicMicroseconds()}";

    /// <summary>A <c>STATUS=</c> assignment: one line, so nothing in <paramref name="text"/> can start another assignment.</summary>
    public static string Status(string text) => "STATUS=" + text.ReplaceLineEndings(" ");

    /// <summary>
    /// CLOCK_MONOTONIC in microseconds: on Linux, <see cref="Stopwatch.GetTimestamp"/> reads CLOCK_MONOTONIC (in
    /// nanoseconds; the Hosting tests check it against the clock itself). systemd runs on Linux only.
    /// </summary>
    private static long MonotonicMicroseconds() => (long)((Int128)Stopwatch.GetTimestamp() * 1_000_000 / Stopwatch.Frequency);
}
