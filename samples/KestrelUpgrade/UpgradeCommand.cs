using System.Net.Sockets;
using AsyncSendFd.Hosting;

namespace KestrelUpgrade;

/// <summary>
/// --upgrade: asks the generation serving on the control socket for an upgrade and reports how it ended, for a deploy
/// script or <c>ExecReload=</c>: exit code 0 once the new generation serves, 1 with the reason otherwise.
/// </summary>
internal static class UpgradeCommand
{
    public static async Task<int> RunAsync(string controlSocket)
    {
        UpgradeResult result;
        try
        {
            result = await Upgrader.RequestUpgradeAsync(controlSocket);
        }
        catch (Exception e) when (e is SocketException or IOException)
        {
            Console.Error.WriteLine($"upgrade not started: no serving generation answered on {controlSocket}: {e.Message}");
            return 1;
        }

        if (result.Succeeded)
        {
            Console.WriteLine($"upgraded: pid {result.SuccessorProcessId} serves");
            return 0;
        }

        Console.Error.WriteLine($"upgrade failed ({result.Outcome}), the serving generation carries on: {result.Error}");
        return 1;
    }
}
