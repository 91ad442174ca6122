using AsyncSendFd.Syscalls;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.MemoryFiles;

/// <summary>A shared mapping of a whole memory file, read-only or writable; <see cref="Dispose"/> unmaps it.</summary>
/// <remarks>
/// Linux maps with the BCL's <see cref="System.IO.MemoryMappedFiles.MemoryMappedFile"/>. macOS cannot: the BCL asks a
/// handle for its length through lseek, which a POSIX shared memory object refuses, so there it is mmap itself.
/// </remarks>
internal abstract unsafe class Mapping : IDisposable
{
    protected Mapping(byte* pointer, long length)
    {
        Pointer = pointer;
        Length = length;
    }

    /// <summary>The first byte; valid until <see cref="Dispose"/>.</summary>
    public byte* Pointer { get; }

    public long Length { get; }

    /// <summary>Maps <paramref name="length"/> bytes (more than 0) of the file from its start.</summary>
    public static Mapping Create(SafeFileHandle handle, long length, bool writable) =>
        Os.IsLinux ? BclMapping.Map(handle, length, writable)
        : Os.IsMacOS ? DarwinMapping.Map(handle, length, writable)
        : throw Os.NotSupported();

    public abstract void Dispose();
}
