using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Tests.Support;

/// <summary>Descriptor bookkeeping for tests: counts, identities and flags from /proc.</summary>
internal static class Descriptors
{
    /// <summary>
    /// Open descriptors of this process, leaving out the runtime's own files: it opens an assembly when it loads
    /// one late, and a symbol file when it prints an exception's stack trace, and neither is a leak.
    /// </summary>
    public static int OpenCount() => Directory.GetFileSystemEntries("/proc/self/fd")
        .Count(entry => !DescriptorSnapshot.IsRuntimeFile(ReadLinkOrEmpty(entry)));

    private static string ReadLinkOrEmpty(string entry)
    {
        try
        {
            return new FileInfo(entry).LinkTarget ?? "";
        }
        catch (IOException)
        {
            return "";
        }
    }

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
    public static string Target(SafeHandle handle) =>
        new FileInfo($"/proc/self/fd/{handle.DangerousGetHandle()}").LinkTarget ?? "";

    /// <summary>Whether the close-on-exec flag is set, from /proc/self/fdinfo (flags are octal; O_CLOEXEC is 02000000).</summary>
    public static bool IsCloseOnExec(SafeHandle handle)
    {
        string flagsLine = File.ReadLines($"/proc/self/fdinfo/{handle.DangerousGetHandle()}").First(l => l.StartsWith("flags:", StringComparison.Ordinal));
        int flags = Convert.ToInt32(flagsLine["flags:".Length..].Trim(), 8);
        return (flags & 0x80000) != 0;
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
