using System.Globalization;
using System.Runtime.InteropServices;

namespace KestrelUpgrade.Driver;

/// <summary>What an operator does from a shell: kill -HUP, kill -TERM, and "is that pid still running?".</summary>
internal static partial class Signals
{
    public const int SIGHUP = 1;
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    public static void Send(int processId, int signal)
    {
        if (kill(processId, signal) != 0)
        {
            throw new InvalidOperationException($"kill({processId}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}.");
        }
    }

    /// <summary>Sends <paramref name="signal"/> unless the process has gone meanwhile.</summary>
    public static bool TrySend(int processId, int signal) => kill(processId, signal) == 0;

    /// <summary>Running, as ps would say: a zombie waiting to be reaped has stopped running.</summary>
    public static bool IsRunning(int processId)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{processId.ToString(CultureInfo.InvariantCulture)}/stat");
            char state = stat[(stat.LastIndexOf(')') + 2)..][0];
            return state is not ('Z' or 'X');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);
}
