using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using AsyncSendFd.Syscalls;
using Microsoft.Win32.SafeHandles;
using Darwin = AsyncSendFd.Native.Interop.Darwin;

namespace AsyncSendFd.MemoryFiles;

/// <summary>A mapping made with mmap, for macOS, where the BCL cannot map a shared memory object.</summary>
[SupportedOSPlatform("macos")]
internal sealed unsafe class DarwinMapping : Mapping
{
    private bool _disposed;

    private DarwinMapping(byte* pointer, long length)
        : base(pointer, length)
    {
    }

    public static DarwinMapping Map(SafeFileHandle handle, long length, bool writable)
    {
        int protection = Darwin.LibC.PROT_READ | (writable ? Darwin.LibC.PROT_WRITE : 0);
        HandleLease lease = HandleLease.Of(handle);
        try
        {
            void* pointer = Darwin.LibC.mmap(null, (nuint)length, protection, Darwin.LibC.MAP_SHARED, lease.Descriptor, 0);
            if (pointer == (void*)-1)
            {
                int errno = Marshal.GetLastPInvokeError();
                throw new IOException($"mmap failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).");
            }

            return new DarwinMapping((byte*)pointer, length);
        }
        finally
        {
            lease.Dispose();
        }
    }

    public override void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            _ = Darwin.LibC.munmap(Pointer, (nuint)Length);
        }
    }
}
