using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Tests.Support;

/// <summary>The few libc calls the reliability tests need that .NET does not expose (Linux and macOS, capabilities Linux only).</summary>
internal static unsafe partial class TestNative
{
    private const uint CapabilityVersion3 = 0x20080522;

    /// <summary>RLIMIT_NOFILE: 7 on Linux, 8 on macOS.</summary>
    private static int RlimitNoFile => OperatingSystem.IsLinux() ? 7 : 8;

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct CapHeader
    {
        public uint Version;
        public int Pid;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct CapData
    {
        public uint Effective;
        public uint Permitted;
        public uint Inheritable;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint read(int fd, byte* buffer, nint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getrlimit(int resource, RLimit* limit);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setrlimit(int resource, RLimit* limit);

    [SupportedOSPlatform("linux")]
    [LibraryImport("libc", SetLastError = true)]
    private static partial int capget(CapHeader* header, CapData* data);

    [SupportedOSPlatform("linux")]
    [LibraryImport("libc", SetLastError = true)]
    private static partial int capset(CapHeader* header, CapData* data);

    /// <summary>Reads what a pipe or file descriptor holds (up to 256 bytes), from its current position.</summary>
    public static string ReadText(SafeHandle handle)
    {
        byte* buffer = stackalloc byte[256];
        nint n = read((int)handle.DangerousGetHandle(), buffer, 256);
        if (n < 0)
        {
            throw new IOException($"read failed: errno {Marshal.GetLastPInvokeError()}");
        }

        return System.Text.Encoding.UTF8.GetString(buffer, (int)n);
    }

    /// <summary>RLIMIT_NOFILE as (soft, hard).</summary>
    public static (ulong Soft, ulong Hard) GetNoFileLimit()
    {
        RLimit limit;
        if (getrlimit(RlimitNoFile, &limit) != 0)
        {
            throw new IOException($"getrlimit failed: errno {Marshal.GetLastPInvokeError()}");
        }

        return (limit.Current, limit.Maximum);
    }

    /// <summary>Sets the soft RLIMIT_NOFILE of the whole process, keeping the hard one.</summary>
    public static void SetNoFileSoftLimit(ulong soft)
    {
        RLimit limit = default;
        limit.Current = soft;
        limit.Maximum = GetNoFileLimit().Hard;
        if (setrlimit(RlimitNoFile, &limit) != 0)
        {
            throw new IOException($"setrlimit({soft}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>
    /// Clears capabilities from the effective set of the CALLING THREAD only (the raw capset syscall is
    /// per-thread; glibc's setuid is what broadcasts). Run it on a dedicated thread that ends afterwards.
    /// </summary>
    [SupportedOSPlatform("linux")]
    public static void DropEffectiveCapabilitiesOfThisThread(params int[] capabilities)
    {
        CapHeader header = default;
        header.Version = CapabilityVersion3;
        CapData* data = stackalloc CapData[2];
        if (capget(&header, data) != 0)
        {
            throw new IOException($"capget failed: errno {Marshal.GetLastPInvokeError()}");
        }

        foreach (int capability in capabilities)
        {
            data[capability / 32].Effective &= ~(1u << (capability % 32));
        }

        header.Pid = 0;
        if (capset(&header, data) != 0)
        {
            throw new IOException($"capset failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>Whether the calling thread has <paramref name="capability"/> in its effective set.</summary>
    [SupportedOSPlatform("linux")]
    public static bool HasEffectiveCapability(int capability)
    {
        CapHeader header = default;
        header.Version = CapabilityVersion3;
        CapData* data = stackalloc CapData[2];
        return capget(&header, data) == 0 && (data[capability / 32].Effective & (1u << (capability % 32))) != 0;
    }

    /// <summary>The highest open descriptor number of this process.</summary>
    public static int HighestOpenDescriptor() => Descriptors.OpenNumbers().Max();

    /// <summary>Opens /dev/null read-only: a cheap descriptor whose identity is easy to check.</summary>
    public static SafeFileHandle OpenDevNull() => File.OpenHandle("/dev/null", FileMode.Open, FileAccess.Read);
}
