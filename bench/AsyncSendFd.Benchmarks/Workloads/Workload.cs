using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Benchmarks.Workloads;

/// <summary>What every scenario sends: one long-lived open file, reused for every message.</summary>
internal static class Descriptor
{
    public static SafeFileHandle OpenDevNull() => File.OpenHandle("/dev/null", FileMode.Open, FileAccess.Read);
}
