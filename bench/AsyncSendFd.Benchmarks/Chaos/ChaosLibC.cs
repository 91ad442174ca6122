using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Benchmarks.Chaos;

/// <summary>The libc calls the chaos run needs that .NET does not expose: memfd_create and RLIMIT_NOFILE.</summary>
[SupportedOSPlatform("linux")]
internal static unsafe partial class ChaosLibC
{
    private const int RLIMIT_NOFILE = 7; // Linux, every architecture .NET runs on
    private const uint MFD_CLOEXEC = 1;
    private const int EMFILE = 24;
    private const int ENFILE = 23;

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int memfd_create(byte* name, uint flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getrlimit(int resource, RLimit* limit);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setrlimit(int resource, RLimit* limit);

    /// <summary>A new close-on-exec memfd; its name shows in /proc/self/fd, which is how a received copy is recognised.</summary>
    /// <returns>The handle, or null when the process is out of descriptors (a squeeze is on).</returns>
    public static SafeFileHandle? CreateMemfd(string name)
    {
        byte* utf8 = stackalloc byte[64];
        int length = System.Text.Encoding.ASCII.GetBytes(name, new Span<byte>(utf8, 63));
        utf8[length] = 0;
        int fd = memfd_create(utf8, MFD_CLOEXEC);
        if (fd >= 0)
        {
            return new SafeFileHandle(fd, ownsHandle: true);
        }

        int errno = Marshal.GetLastPInvokeError();
        return errno is EMFILE or ENFILE ? null : throw new IOException($"memfd_create failed: errno {errno}");
    }

    /// <summary>The soft RLIMIT_NOFILE of the whole process.</summary>
    public static ulong NoFileSoftLimit
    {
        get => Get().Current;
        set
        {
            RLimit limit = Get();
            limit.Current = value;
            if (setrlimit(RLIMIT_NOFILE, &limit) != 0)
            {
                throw new IOException($"setrlimit(RLIMIT_NOFILE, {value}) failed: errno {Marshal.GetLastPInvokeError()}");
            }
        }
    }

    /// <summary>Raises the soft limit to the hard one: descriptors in flight count against it (ETOOMANYREFS).</summary>
    public static void RaiseNoFileLimit() => NoFileSoftLimit = Get().Maximum;

    private static RLimit Get()
    {
        RLimit limit;
        return getrlimit(RLIMIT_NOFILE, &limit) == 0
            ? limit
            : throw new IOException($"getrlimit failed: errno {Marshal.GetLastPInvokeError()}");
    }
}
