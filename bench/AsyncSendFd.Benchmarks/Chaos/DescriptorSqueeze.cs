using System.Globalization;
using System.Runtime.Versioning;
using Microsoft.Win32.SafeHandles;
using Linux = AsyncSendFd.Native.Interop.Linux;
using Unix = AsyncSendFd.Native.Interop.Unix;

namespace AsyncSendFd.Benchmarks.Chaos;

/// <summary>
/// Puts the whole process at its descriptor limit for a while: every free number below the highest open descriptor is
/// taken by a placeholder and RLIMIT_NOFILE is lowered to leave only <c>slack</c> numbers above it. Receivers then get
/// MSG_CTRUNC for messages whose descriptors do not fit, and sends ETOOMANYREFS once more are in flight than the limit.
/// </summary>
/// <remarks>
/// The thread pool is held at its current size meanwhile (<see cref="ThreadPoolHold"/>). A new .NET thread needs
/// descriptors to start: <c>Thread.Start</c> then throws OutOfMemoryException, which the library's engine handles, but
/// the runtime aborts the process when its thread pool adds a worker at the limit (.NET 10 on Linux; reproduced with a
/// program that blocks pool threads while squeezed). That is the runtime's limit, not the library's, and a squeezed
/// harness whose blocked continuations starve the pool would hit it.
/// </remarks>
[SupportedOSPlatform("linux")]
internal sealed class DescriptorSqueeze : IDisposable
{
    private readonly ulong _original;
    private readonly List<SafeFileHandle> _placeholders;
    private readonly ThreadPoolHold _pool;

    private DescriptorSqueeze(ulong original, List<SafeFileHandle> placeholders, ThreadPoolHold pool)
    {
        _original = original;
        _placeholders = placeholders;
        _pool = pool;
    }

    public static DescriptorSqueeze Begin(int slack)
    {
        int highest = Directory.GetFileSystemEntries("/proc/self/fd").Max(e => int.Parse(Path.GetFileName(e), CultureInfo.InvariantCulture));
        var placeholders = new List<SafeFileHandle>();
        SafeFileHandle? first = ChaosLibC.CreateMemfd("chaos-placeholder");
        if (first is not null)
        {
            placeholders.Add(first);
            while (true)
            {
                // F_DUPFD_CLOEXEC takes the lowest free number: the holes fill from the bottom.
                int copy = Unix.LibC.fcntl((int)first.DangerousGetHandle(), Linux.LibC.F_DUPFD_CLOEXEC, 0);
                if (copy < 0)
                {
                    break;
                }

                var placeholder = new SafeFileHandle(copy, ownsHandle: true);
                if (copy > highest)
                {
                    placeholder.Dispose();
                    break;
                }

                placeholders.Add(placeholder);
            }
        }

        var pool = new ThreadPoolHold();
        ulong original = ChaosLibC.NoFileSoftLimit;
        ChaosLibC.NoFileSoftLimit = (ulong)(highest + 1 + slack);
        return new DescriptorSqueeze(original, placeholders, pool);
    }

    public void Dispose()
    {
        ChaosLibC.NoFileSoftLimit = _original;
        _pool.Dispose();
        foreach (SafeFileHandle placeholder in _placeholders)
        {
            placeholder.Dispose();
        }
    }
}
