using AsyncSendFd.Benchmarks.Chaos;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Tests.Support;

/// <summary>
/// Changes the process's soft RLIMIT_NOFILE for a scope and puts it back on Dispose. Only for tests in
/// <see cref="DescriptorsCollection"/>: the limit is process-wide. A lowered limit also holds the thread pool at its
/// size (<see cref="ThreadPoolHold"/>), since the runtime aborts if the pool adds a worker at the limit.
/// </summary>
internal sealed class NoFileLimit : IDisposable
{
    private readonly ulong _original;
    private readonly List<SafeFileHandle> _placeholders;
    private readonly ThreadPoolHold? _pool;

    private NoFileLimit(ulong soft, List<SafeFileHandle>? placeholders = null, ThreadPoolHold? pool = null)
    {
        _placeholders = placeholders ?? [];
        _pool = pool;
        _original = TestNative.GetNoFileLimit().Soft;
        TestNative.SetNoFileSoftLimit(soft);
    }

    /// <summary>Descriptor numbers still free under the lowered limit, counted before it went down.</summary>
    public int FreeNumbers { get; private init; }

    /// <summary>
    /// Leaves exactly <paramref name="freeAboveHighest"/> descriptor numbers free. The limit caps the descriptor
    /// number, not the count, so the holes below the highest open descriptor (left by closed ones, or by a runtime
    /// that opened one high while many were open) are filled with placeholders first.
    /// </summary>
    public static NoFileLimit JustAboveHighestOpen(int freeAboveHighest)
    {
        int highest = TestNative.HighestOpenDescriptor();
        var placeholders = new List<SafeFileHandle>();
        while (true)
        {
            SafeFileHandle placeholder = TestNative.OpenDevNull();
            if (placeholder.DangerousGetHandle() > highest)
            {
                placeholder.Dispose();
                break;
            }

            placeholders.Add(placeholder);
        }

        // Counted now: with the limit down, listing the descriptors may itself find no free number.
        int limit = highest + 1 + freeAboveHighest;
        int free = limit - Descriptors.OpenNumbers().Count();
        return new NoFileLimit((ulong)limit, placeholders, new ThreadPoolHold()) { FreeNumbers = free };
    }

    /// <summary>Raises the soft limit to at least <paramref name="wanted"/> (capped by the hard limit).</summary>
    public static NoFileLimit AtLeast(ulong wanted)
    {
        (ulong soft, ulong hard) = TestNative.GetNoFileLimit();
        return new NoFileLimit(Math.Max(soft, Math.Min(wanted, hard)));
    }

    public void Dispose()
    {
        TestNative.SetNoFileSoftLimit(_original);
        _pool?.Dispose();
        foreach (SafeFileHandle placeholder in _placeholders)
        {
            placeholder.Dispose();
        }
    }
}
