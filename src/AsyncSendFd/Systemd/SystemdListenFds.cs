using System.Globalization;
using AsyncSendFd.Internal;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Systemd;

/// <summary>
/// Takes the descriptors the service manager passed at start (<c>LISTEN_FDS</c>, <c>LISTEN_PID</c>,
/// <c>LISTEN_FDNAMES</c>): socket-activated listeners and whatever the fd store kept across a restart.
/// </summary>
public static class SystemdListenFds
{
    /// <summary><c>SD_LISTEN_FDS_START</c>: passed descriptors start at 3.</summary>
    public const int FirstDescriptor = 3;

    /// <summary>
    /// Takes ownership of the passed descriptors, marks them close-on-exec and removes the variables
    /// from this process's environment so that child processes do not believe they were meant for them
    /// (as <c>sd_listen_fds_with_names(1, ...)</c> does).
    /// </summary>
    /// <returns>The descriptors with their names, in order; empty when none were passed to this process.</returns>
    /// <exception cref="FormatException"><c>LISTEN_FDS</c> or <c>LISTEN_PID</c> is not a number.</exception>
    public static IReadOnlyList<SystemdFileDescriptor> Take()
    {
        IReadOnlyList<SystemdFileDescriptor> taken = Take(Environment.GetEnvironmentVariable, Environment.ProcessId, FirstDescriptor);
        Environment.SetEnvironmentVariable("LISTEN_PID", null);
        Environment.SetEnvironmentVariable("LISTEN_FDS", null);
        Environment.SetEnvironmentVariable("LISTEN_FDNAMES", null);
        return taken;
    }

    /// <summary>The parsing and adoption, with the environment, pid and first descriptor given (tests pass their own).</summary>
    internal static IReadOnlyList<SystemdFileDescriptor> Take(Func<string, string?> environment, int processId, int firstDescriptor)
    {
        string? pid = environment("LISTEN_PID");
        string? count = environment("LISTEN_FDS");
        if (string.IsNullOrEmpty(pid) || string.IsNullOrEmpty(count)
            || int.Parse(pid, NumberStyles.None, CultureInfo.InvariantCulture) != processId)
        {
            return [];
        }

        int n = int.Parse(count, NumberStyles.None, CultureInfo.InvariantCulture);
        string[] names = environment("LISTEN_FDNAMES")?.Split(':') ?? [];
        var taken = new SystemdFileDescriptor[n];
        for (int i = 0; i < n; i++)
        {
            int fd = firstDescriptor + i;
            NativeSocket.SetCloseOnExec(fd);
            string name = i < names.Length && names[i].Length > 0 ? names[i] : "unknown";
            taken[i] = new SystemdFileDescriptor(name, new SafeFileHandle(fd, ownsHandle: true));
        }

        return taken;
    }
}
