using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace AsyncSendFd.Native.Interop.Darwin;

/// <summary>
/// <c>struct stat</c> from &lt;sys/stat.h&gt; on macOS with 64-bit inodes (the only layout on arm64, and the one
/// <c>fstat$INODE64</c> fills on x64): 144 bytes.
/// </summary>
[SupportedOSPlatform("macos")]
public unsafe struct stat
{
    /// <summary>Device of the file.</summary>
    public int st_dev;

    /// <summary>File type (<see cref="LibC.S_IFMT"/> bits) and permissions.</summary>
    public ushort st_mode;

    /// <summary>Number of hard links.</summary>
    public ushort st_nlink;

    /// <summary>Inode number.</summary>
    public ulong st_ino;

    /// <summary>Owner.</summary>
    public uint st_uid;

    /// <summary>Group.</summary>
    public uint st_gid;

    /// <summary>Device, for a device file.</summary>
    public int st_rdev;

    /// <summary>Last access.</summary>
    public timespec st_atimespec;

    /// <summary>Last modification.</summary>
    public timespec st_mtimespec;

    /// <summary>Last status change.</summary>
    public timespec st_ctimespec;

    /// <summary>Creation.</summary>
    public timespec st_birthtimespec;

    /// <summary>Size in bytes.</summary>
    public long st_size;

    /// <summary>Blocks allocated.</summary>
    public long st_blocks;

    /// <summary>Preferred I/O block size.</summary>
    public int st_blksize;

    /// <summary>User-defined flags.</summary>
    public uint st_flags;

    /// <summary>Generation number.</summary>
    public uint st_gen;

    /// <summary>Reserved.</summary>
    public int st_lspare;

    /// <summary>Reserved.</summary>
    public fixed long st_qspare[2];
}

// <sys/stat.h>
public static unsafe partial class LibC
{
#pragma warning disable CS1591 // The native name is the documentation: see stat(2).
    public const int S_IFMT = 0xF000;
#pragma warning restore CS1591

    /// <summary>
    /// The status of an open descriptor. xnu reports a POSIX shared memory object with no file type bits in
    /// <c>st_mode</c> (permissions only) and its size rounded up to the page size.
    /// </summary>
    /// <remarks>x64 keeps the 32-bit-inode <c>fstat</c> for old binaries; <c>fstat$INODE64</c> fills this layout there.</remarks>
    public static int fstat(int fildes, Darwin.stat* buf) =>
        RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? fstat_arm64(fildes, buf) : fstat_inode64(fildes, buf);

    [LibraryImport(Unix.LibC.Name, EntryPoint = "fstat", SetLastError = true)]
    private static partial int fstat_arm64(int fildes, Darwin.stat* buf);

    [LibraryImport(Unix.LibC.Name, EntryPoint = "fstat$INODE64", SetLastError = true)]
    private static partial int fstat_inode64(int fildes, Darwin.stat* buf);
}
