namespace AsyncSendFd.Tests.Support;

/// <summary>
/// Asserts that a scenario leaves the process's descriptor count where it found it. Runs the scenario once
/// first, so lazily created runtime descriptors (the readiness engine's epoll or kqueue) are not counted.
/// The baseline is taken after collecting (other tests' dropped handles must not skew it); the final count is not,
/// so a handle the library dropped to its finalizer is seen open. Use only from the non-parallel <see cref="DescriptorsCollection"/>.
/// </summary>
internal static class Leak
{
    public static void AssertNone(Action scenario)
    {
        scenario();
        int before = StableCount();
        scenario();
        Assert.Equal(before, Descriptors.CountSettledAt(before));
    }

    public static async Task AssertNoneAsync(Func<Task> scenario)
    {
        await scenario();
        int before = StableCount();
        await scenario();
        Assert.Equal(before, Descriptors.CountSettledAt(before));
    }

    /// <summary>The count after finalizers ran, so handles another test dropped do not skew it.</summary>
    public static int StableCount()
    {
        LibraryWarmup.StartEngine();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return Descriptors.OpenCount();
    }
}
