using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Security.Cryptography;
using AsyncSendFd.MemoryFiles;
using Microsoft.Win32.SafeHandles;
using Darwin = AsyncSendFd.Native.Interop.Darwin;
using Linux = AsyncSendFd.Native.Interop.Linux;
using Unix = AsyncSendFd.Native.Interop.Unix;

namespace AsyncSendFd.Syscalls;

/// <summary>
/// Memory files: created (Linux memfd_create; macOS an unlinked POSIX shared memory object), sealed and inspected.
/// Sizes go through the BCL (<see cref="RandomAccess"/>) where it can: it cannot on macOS, whose shared memory
/// objects refuse lseek, which the BCL reads as "unseekable".
/// </summary>
internal static unsafe class MemoryFileCalls
{
    /// <summary>The length of <see cref="SharedMemoryObjectName"/> with its NUL.</summary>
    public const int SharedMemoryObjectNameSize = 30;

    /// <summary>How a memfd shows in /proc/PID/fd: "/memfd:AsyncSendFd (deleted)".</summary>
    private static ReadOnlySpan<byte> MemfdName => "AsyncSendFd\0"u8;

    /// <summary>A new memory file of <paramref name="length"/> zero bytes, close-on-exec, owned by the returned handle.</summary>
    /// <exception cref="IOException">The kernel refused (out of descriptors or memory).</exception>
    public static SafeFileHandle Create(long length)
    {
        SafeFileHandle handle = Os.IsLinux ? CreateMemfd() : Os.IsMacOS ? CreateSharedMemoryObject() : throw Os.NotSupported();
        try
        {
            if (Os.IsLinux)
            {
                RandomAccess.SetLength(handle, length);
            }
            else if (Os.IsMacOS)
            {
                Truncate(handle, length);
            }
        }
        catch
        {
            handle.Dispose();
            throw;
        }

        return handle;
    }

    /// <summary>The seals the file carries (Linux), or the ones the kernel enforces unasked (macOS: a sized object keeps its size).</summary>
    public static FileSeals Seals(SafeFileHandle handle) => Inspect(handle).Seals;

    /// <summary>Adds seals (Linux); macOS has none to add.</summary>
    /// <exception cref="InvalidOperationException">The file is sealed against further seals.</exception>
    /// <exception cref="IOException">The kernel refused: a writable shared mapping exists (EBUSY), for one.</exception>
    public static void AddSeals(SafeFileHandle handle, FileSeals seals)
    {
        if (!Os.IsLinux)
        {
            return;
        }

        HandleLease lease = HandleLease.Of(handle);
        try
        {
            if (Unix.LibC.fcntl(lease.Descriptor, Linux.LibC.F_ADD_SEALS, ToLinuxSeals(seals)) == 0)
            {
                return;
            }

            int errno = Marshal.GetLastPInvokeError();
            throw errno == Linux.LibC.EPERM
                ? new InvalidOperationException("The memory file is sealed against further seals (FileSeals.Seal).")
                : Error("fcntl(F_ADD_SEALS)", errno, " EBUSY means a writable shared mapping of it still exists, in this process or one it was sent to.");
        }
        finally
        {
            lease.Dispose();
        }
    }

    /// <summary>Whether the descriptor is a memory file, its seals and its size, asked of the kernel.</summary>
    /// <exception cref="IOException">The kernel could not tell.</exception>
    public static MemoryFileFacts Inspect(SafeFileHandle handle)
    {
        if (Os.IsLinux)
        {
            int seals;
            HandleLease lease = HandleLease.Of(handle);
            try
            {
                seals = Unix.LibC.fcntl(lease.Descriptor, Linux.LibC.F_GET_SEALS, 0);
            }
            finally
            {
                lease.Dispose();
            }

            if (seals < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                return errno == Linux.LibC.EINVAL ? new MemoryFileFacts(false, FileSeals.None, 0) : throw Error("fcntl(F_GET_SEALS)", errno);
            }

            return new MemoryFileFacts(true, FromLinuxSeals(seals), RandomAccess.GetLength(handle));
        }

        return Os.IsMacOS ? InspectSharedMemoryObject(handle) : throw Os.NotSupported();
    }

    /// <summary>"/asyncsendfd." and 16 hex digits from <paramref name="random"/> (8 bytes), NUL-terminated: 30 bytes, within xnu's 31.</summary>
    public static void SharedMemoryObjectName(ReadOnlySpan<byte> random, Span<byte> destination)
    {
        "/asyncsendfd."u8.CopyTo(destination);
        int length = "/asyncsendfd."u8.Length;
        for (int i = 0; i < 8; i++)
        {
            destination[length++] = "0123456789abcdef"u8[random[i] >> 4];
            destination[length++] = "0123456789abcdef"u8[random[i] & 0xF];
        }

        destination[length] = 0;
    }

    [SupportedOSPlatform("linux")]
    internal static int ToLinuxSeals(FileSeals seals) =>
        ((seals & FileSeals.Seal) != 0 ? Linux.LibC.F_SEAL_SEAL : 0)
        | ((seals & FileSeals.Shrink) != 0 ? Linux.LibC.F_SEAL_SHRINK : 0)
        | ((seals & FileSeals.Grow) != 0 ? Linux.LibC.F_SEAL_GROW : 0)
        | ((seals & FileSeals.Write) != 0 ? Linux.LibC.F_SEAL_WRITE : 0);

    /// <summary>The seals <see cref="FileSeals"/> names; newer ones (F_SEAL_FUTURE_WRITE, F_SEAL_EXEC) are left out.</summary>
    [SupportedOSPlatform("linux")]
    internal static FileSeals FromLinuxSeals(int seals) =>
        ((seals & Linux.LibC.F_SEAL_SEAL) != 0 ? FileSeals.Seal : FileSeals.None)
        | ((seals & Linux.LibC.F_SEAL_SHRINK) != 0 ? FileSeals.Shrink : FileSeals.None)
        | ((seals & Linux.LibC.F_SEAL_GROW) != 0 ? FileSeals.Grow : FileSeals.None)
        | ((seals & Linux.LibC.F_SEAL_WRITE) != 0 ? FileSeals.Write : FileSeals.None);

    [SupportedOSPlatform("linux")]
    private static SafeFileHandle CreateMemfd()
    {
        int fd;
        fixed (byte* name = MemfdName)
        {
            // Not executable where the kernel knows how to say so (6.3+; it logs a warning otherwise, and a system with
            // vm.memfd_noexec = 2 refuses); older kernels reject the flag with EINVAL and get the plain call.
            fd = Linux.LibC.memfd_create(name, Linux.LibC.MFD_CLOEXEC | Linux.LibC.MFD_ALLOW_SEALING | Linux.LibC.MFD_NOEXEC_SEAL);
            if (fd < 0 && Marshal.GetLastPInvokeError() == Linux.LibC.EINVAL)
            {
                fd = Linux.LibC.memfd_create(name, Linux.LibC.MFD_CLOEXEC | Linux.LibC.MFD_ALLOW_SEALING);
            }
        }

        return fd >= 0 ? new SafeFileHandle(fd, ownsHandle: true) : throw Error("memfd_create", Marshal.GetLastPInvokeError());
    }

    /// <summary>shm_open with a random name and O_EXCL, unlinked at once: nobody else can open it by name.</summary>
    [SupportedOSPlatform("macos")]
    private static SafeFileHandle CreateSharedMemoryObject()
    {
        Span<byte> random = stackalloc byte[8];
        Span<byte> name = stackalloc byte[SharedMemoryObjectNameSize];
        for (int attempt = 1; ; attempt++)
        {
            RandomNumberGenerator.Fill(random);
            SharedMemoryObjectName(random, name);
            fixed (byte* path = name)
            {
                int fd = Darwin.LibC.shm_open(path, Darwin.LibC.O_RDWR | Darwin.LibC.O_CREAT | Darwin.LibC.O_EXCL, 0x180 /* 0600 */);
                if (fd < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == Darwin.LibC.EEXIST && attempt < 4)
                    {
                        continue;
                    }

                    throw Error("shm_open", errno);
                }

                var handle = new SafeFileHandle(fd, ownsHandle: true);
                if (Darwin.LibC.shm_unlink(path) != 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    handle.Dispose();
                    throw Error("shm_unlink", errno);
                }

                DescriptorCalls.SetCloseOnExec(fd);
                return handle;
            }
        }
    }

    [SupportedOSPlatform("macos")]
    private static void Truncate(SafeFileHandle handle, long length)
    {
        HandleLease lease = HandleLease.Of(handle);
        try
        {
            int result;
            do
            {
                result = Darwin.LibC.ftruncate(lease.Descriptor, length);
            }
            while (result != 0 && Marshal.GetLastPInvokeError() == Darwin.LibC.EINTR);

            if (result != 0)
            {
                throw Error("ftruncate", Marshal.GetLastPInvokeError());
            }
        }
        finally
        {
            lease.Dispose();
        }
    }

    [SupportedOSPlatform("macos")]
    private static MemoryFileFacts InspectSharedMemoryObject(SafeFileHandle handle)
    {
        Darwin.stat status;
        HandleLease lease = HandleLease.Of(handle);
        try
        {
            if (Darwin.LibC.fstat(lease.Descriptor, &status) != 0)
            {
                throw Error("fstat", Marshal.GetLastPInvokeError());
            }
        }
        finally
        {
            lease.Dispose();
        }

        bool isSharedMemory = (status.st_mode & Darwin.LibC.S_IFMT) == 0;

        // Sized once, it can neither shrink nor grow; an object never sized could still be, once.
        FileSeals fixedSize = isSharedMemory && status.st_size > 0 ? FileSeals.Shrink | FileSeals.Grow : FileSeals.None;
        return new MemoryFileFacts(isSharedMemory, fixedSize, status.st_size);
    }

    private static IOException Error(string call, int errno, string hint = "") =>
        new($"{call} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).{hint}");
}
