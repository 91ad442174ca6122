using System.Net.Sockets;
using AsyncSendFd.Systemd;
using Microsoft.Extensions.Logging;

namespace AsyncSendFd.Hosting.Internal;

/// <summary>sd_notify for the upgrader: a service manager that cannot be told is logged, never fatal.</summary>
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
}
