using System.IO.MemoryMappedFiles;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.MemoryFiles;

/// <summary>A mapping made by the BCL: <see cref="MemoryMappedFile.CreateFromFile(SafeFileHandle, string?, long, MemoryMappedFileAccess, HandleInheritability, bool)"/> and one view.</summary>
internal sealed unsafe class BclMapping : Mapping
{
    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private bool _disposed;

    private BclMapping(MemoryMappedFile file, MemoryMappedViewAccessor view, byte* pointer, long length)
        : base(pointer, length)
    {
        _file = file;
        _view = view;
    }

    public static BclMapping Map(SafeFileHandle handle, long length, bool writable)
    {
        MemoryMappedFileAccess access = writable ? MemoryMappedFileAccess.ReadWrite : MemoryMappedFileAccess.Read;

        // The capacity is the file's size, so the BCL neither grows the file (it would ftruncate a smaller one) nor refuses it.
        MemoryMappedFile file = MemoryMappedFile.CreateFromFile(handle, mapName: null, length, access, HandleInheritability.None, leaveOpen: true);
        MemoryMappedViewAccessor? view = null;
        try
        {
            view = file.CreateViewAccessor(0, length, access);
            byte* pointer = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            return new BclMapping(file, view, pointer + view.PointerOffset, length);
        }
        catch
        {
            view?.Dispose();
            file.Dispose();
            throw;
        }
    }

    public override void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _file.Dispose();
    }
}
