using System.Runtime.InteropServices;

namespace AsyncSendFd.Benchmarks.Infrastructure;

/// <summary>RLIMIT_NOFILE, read and raised with getrlimit/setrlimit (the scale scenario holds ~2 descriptors per idle waiter).</summary>
internal static unsafe partial class DescriptorLimit
{
    private const int RLIMIT_NOFILE = 7; // Linux, every architecture .NET runs on

    /// <summary>Raises the soft limit to the hard limit if it is lower.</summary>
    /// <returns>The soft and hard limits after the call.</returns>
    public static (ulong Soft, ulong Hard) RaiseToHard()
    {
        RLimit limit;
        if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
        {
            throw new IOException($"getrlimit(RLIMIT_NOFILE) failed (errno {Marshal.GetLastPInvokeError()}).");
        }

        if (limit.Current < limit.Maximum)
        {
            limit.Current = limit.Maximum;
            if (setrlimit(RLIMIT_NOFILE, &limit) != 0)
            {
                throw new IOException($"setrlimit(RLIMIT_NOFILE, {limit.Maximum}) failed (errno {Marshal.GetLastPInvokeError()}).");
            }
        }

        return getrlimit(RLIMIT_NOFILE, &limit) == 0 ? (limit.Current, limit.Maximum) : (0, 0);
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getrlimit(int resource, RLimit* limit);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setrlimit(int resource, RLimit* limit);

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }
}
