using System.Globalization;
using System.Runtime.InteropServices;
using AsyncSendFd.Native.Interop.Unix;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Tests.Support;

/// <summary>
/// Descriptor bookkeeping for tests: counts, identities and flags. Linux lists /proc/self/fd and reads its links;
/// macOS lists /dev/fd and names a descriptor by its path (F_GETPATH) or, for a pipe or socket, its fstat identity.
/// </summary>
internal static class Descriptors
{
    /// <summary>The numbers of this process's open descriptors (the listing's own included: it was open meanwhile).</summary>
    public static IEnumerable<int> OpenNumbers() =>
        Directory.GetFileSystemEntries(OperatingSystem.IsLinux() ? "/proc/self/fd" : "/dev/fd")
            .Select(entry => int.Parse(Path.GetFileName(entry), CultureInfo.InvariantCulture));

    /// <summary>What descriptor <paramref name="fd"/> refers to ("pipe:[123]", "/tmp/x"), or null if it is not open (any more).</summary>
    public static string? TargetOf(int fd)
    {
        if (OperatingSystem.IsLinux())
        {
            try
            {
                return new FileInfo($"/proc/self/fd/{fd}").LinkTarget;
            }
            catch (IOException)
            {
                return null; // closed between the listing and the read
            }
        }

        if (OperatingSystem.IsMacOS())
        {
            return TestLibC.PathOf(fd) is { Length: > 0 } path ? path : TestLibC.IdentityOf(fd);
        }

        throw new PlatformNotSupportedException();
    }

    /// <summary>
    /// Open descriptors of this process, leaving out the runtime's own files: it opens an assembly when it loads
    /// one late, and a symbol file when it prints an exception's stack trace, and neither is a leak.
    /// </summary>
    public static int OpenCount() => OpenNumbers().Count(fd => !DescriptorSnapshot.IsRuntimeFile(TargetOf(fd) ?? ""));

    /// <summary>
    /// The open count once it settles at <paramref name="expected"/>, by waiting only: descriptors the test host's own
    /// threads hold for a moment (a directory listing, an assembly load) get up to three seconds to close. No garbage is
    /// collected first, so a descriptor the library wrapped in a handle and dropped, which only a finalizer would close,
    /// still counts as the leak it is.
    /// </summary>
    public static int CountSettledAt(int expected)
    {
        int count = OpenCount();
        for (int attempt = 0; attempt < 30 && count != expected; attempt++)
        {
            Thread.Sleep(100);
            count = OpenCount();
        }

        return count;
    }

    /// <summary>What a descriptor refers to ("pipe:[123]", "/tmp/x"), the identity a passed descriptor keeps.</summary>
    public static string Target(SafeHandle handle) => TargetOf((int)handle.DangerousGetHandle()) ?? "";

    /// <summary>Whether the close-on-exec flag (FD_CLOEXEC) is set.</summary>
    public static bool IsCloseOnExec(SafeHandle handle)
    {
        int flags = LibC.fcntl((int)handle.DangerousGetHandle(), TestLibC.F_GETFD, 0);
        Assert.True(flags >= 0, $"fcntl(F_GETFD) failed with errno {Marshal.GetLastPInvokeError()}");
        return (flags & TestLibC.FD_CLOEXEC) != 0;
    }

    /// <summary>A fresh temporary file opened for reading and writing, deleted on close.</summary>
    public static SafeFileHandle TempFile(string? contents = null)
    {
        string path = Path.GetTempFileName();
        if (contents is not null)
        {
            File.WriteAllText(path, contents);
        }

        SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete, FileOptions.DeleteOnClose);
        return handle;
    }

    /// <summary>Reads a whole small file through a received handle, from offset 0.</summary>
    public static string ReadAll(SafeFileHandle handle)
    {
        var buffer = new byte[4096];
        int n = RandomAccess.Read(handle, buffer, 0);
        return System.Text.Encoding.UTF8.GetString(buffer, 0, n);
    }

    /// <summary>Disposes every received handle in <paramref name="handles"/> and clears its slot.</summary>
    public static void DisposeAll(IList<SafeFileHandle?> handles)
    {
        for (int i = 0; i < handles.Count; i++)
        {
            handles[i]?.Dispose();
            handles[i] = null;
        }
    }
}
