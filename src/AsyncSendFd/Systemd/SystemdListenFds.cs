using System.Globalization;
using AsyncSendFd.Syscalls;
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
    /// (as <c>sd_listen_fds_with_names(1, ...)</c> does, whether or not the variables were valid).
    /// </summary>
    /// <remarks>
    /// All or nothing: every announced descriptor must be open before any is adopted, so an overstated
    /// <c>LISTEN_FDS</c> never yields a handle that would close a descriptor belonging to someone else.
    /// </remarks>
    /// <returns>The descriptors with their names, in order; empty when none were passed to this process.</returns>
    /// <exception cref="FormatException"><c>LISTEN_FDS</c> or <c>LISTEN_PID</c> is not a non-negative 32-bit number.</exception>
    /// <exception cref="InvalidOperationException">
    /// <c>LISTEN_FDS</c> announces more descriptors than are open from <see cref="FirstDescriptor"/> on; none was taken.
    /// </exception>
    public static IReadOnlyList<SystemdFileDescriptor> Take()
    {
        try
        {
            return Take(Environment.GetEnvironmentVariable, Environment.ProcessId, FirstDescriptor);
        }
        finally
        {
            Environment.SetEnvironmentVariable("LISTEN_PID", null);
            Environment.SetEnvironmentVariable("LISTEN_FDS", null);
            Environment.SetEnvironmentVariable("LISTEN_FDNAMES", null);
        }
    }

    /// <summary>The parsing and adoption, with the environment, pid and first descriptor given (tests pass their own).</summary>
    internal static IReadOnlyList<SystemdFileDescriptor> Take(Func<string, string?> environment, int processId, int firstDescriptor)
    {
        string? pid = environment("LISTEN_PID");
        string? count = environment("LISTEN_FDS");
        if (string.IsNullOrEmpty(pid) || string.IsNullOrEmpty(count) || Parse("LISTEN_PID", pid) != processId)
        {
            return [];
        }

        int n = Parse("LISTEN_FDS", count);
        if (n > int.MaxValue - firstDescriptor)
        {
            throw new InvalidOperationException($"LISTEN_FDS announces {n} descriptors, more than there are numbers from {firstDescriptor} on.");
        }

        // Check all before adopting any (sd_listen_fds fails on the first that is not open): the count is bounded by what is open.
        for (int i = 0; i < n; i++)
        {
            if (!DescriptorCalls.IsOpen(firstDescriptor + i))
            {
                throw new InvalidOperationException(
                    $"LISTEN_FDS announces {n} descriptors from {firstDescriptor}, but {firstDescriptor + i} is not open; none was taken.");
            }
        }

        string[] names = environment("LISTEN_FDNAMES")?.Split(':') ?? [];
        var taken = new SystemdFileDescriptor[n];
        int adopted = 0;
        try
        {
            for (; adopted < n; adopted++)
            {
                int fd = firstDescriptor + adopted;
                string name = adopted < names.Length && names[adopted].Length > 0 ? names[adopted] : "unknown";
                taken[adopted] = new SystemdFileDescriptor(name, new SafeFileHandle(fd, ownsHandle: true));
            }
        }
        catch
        {
            // Nothing adopted: the handles made so far give their descriptors up rather than close them in a finalizer.
            for (int i = 0; i < adopted; i++)
            {
                taken[i].Handle.SetHandleAsInvalid();
            }

            throw;
        }

        foreach (SystemdFileDescriptor descriptor in taken)
        {
            DescriptorCalls.SetCloseOnExec((int)descriptor.Handle.DangerousGetHandle());
        }

        return taken;
    }

    private static int Parse(string variable, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int number)
            ? number
            : throw new FormatException($"{variable}={value} is not a non-negative 32-bit number.");
}
