namespace AsyncSendFd.Hosting.Tests.Support;

/// <summary>This process's open descriptors (/proc/self/fd), and a count that is given time to settle.</summary>
internal static class Fds
{
    public static int Count() => Directory.GetFileSystemEntries("/proc/self/fd").Length;

    /// <summary>The count after finalizers ran, so handles an earlier test dropped do not skew a baseline.</summary>
    public static int Baseline()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return Count();
    }

    /// <summary>
    /// The count once it is back at <paramref name="expected"/>, by waiting only (up to three seconds): the upgrader
    /// closes a refused connection on its own task. No collection first, so a descriptor left to a finalizer counts.
    /// </summary>
    public static int SettledAt(int expected)
    {
        int count = Count();
        for (int attempt = 0; attempt < 30 && count != expected; attempt++)
        {
            Thread.Sleep(100);
            count = Count();
        }

        return count;
    }
}
