using AsyncSendFd.MemoryFiles;
using AsyncSendFd.Sockets;
using AsyncSendFd.Syscalls;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd;

/// <summary>
/// A memory file to hand to another process without copying it through a socket: created at a fixed size, filled in
/// place through a writable mapping (<see cref="Span"/>), sealed (<see cref="Seal"/>) so that nobody, this process
/// included, can change it any more, then sent as a descriptor (<see cref="Handle"/>) with any send call. The receiver
/// checks and maps it with <see cref="ReadOnlyMemoryFile.Open"/>.
/// </summary>
/// <remarks>
/// <para>
/// Linux: <c>memfd_create</c>, close-on-exec, sealable, and not executable where the kernel can say so (6.3+).
/// macOS: an anonymous POSIX shared memory object (<c>shm_open</c> with a random name and <c>O_EXCL</c>, unlinked at
/// once, close-on-exec). macOS has no seals: <see cref="Seal"/> only gives up this process's writable mapping, and the
/// content stays writable to any process holding the descriptor. What macOS does promise is a fixed size: an object is
/// sized once. It also rounds the size up to the page size, which is the size the receiver sees.
/// </para>
/// <para>
/// Spans from <see cref="Span"/> and <see cref="GetSpan"/> point into the mapping: do not use them after
/// <see cref="Seal"/> (with <see cref="FileSeals.Write"/>) or <see cref="Dispose"/> unmapped it. The type is not safe
/// for concurrent use.
/// </para>
/// </remarks>
public sealed class MemoryFile : IDisposable
{
    private readonly SafeFileHandle _handle;
    private Mapping? _mapping;
    private bool _writable = true;
    private bool _disposed;

    private MemoryFile(SafeFileHandle handle, Mapping? mapping, long length)
    {
        _handle = handle;
        _mapping = mapping;
        Length = length;
    }

    /// <summary>The size the file was created with, in bytes.</summary>
    public long Length { get; }

    /// <summary>The descriptor to send. The memory file owns it: send it, do not dispose it.</summary>
    /// <exception cref="ObjectDisposedException">The memory file is disposed.</exception>
    public SafeFileHandle Handle
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _handle;
        }
    }

    /// <summary>Whether <see cref="Span"/> may still be written: until <see cref="Seal"/> seals against writes.</summary>
    public bool IsWritable => _writable && !_disposed;

    /// <summary>The whole file, writable, without a copy: the shared mapping itself.</summary>
    /// <exception cref="ObjectDisposedException">The memory file is disposed.</exception>
    /// <exception cref="InvalidOperationException">It is sealed against writes, or larger than a span (2 GiB): use <see cref="GetSpan"/>.</exception>
    public Span<byte> Span => MappedSpans.Whole(WritableMapping(), Length);

    /// <summary>The seals the kernel reports now (Linux); on macOS, <see cref="FileSeals.Shrink"/> and <see cref="FileSeals.Grow"/> once sized.</summary>
    /// <exception cref="ObjectDisposedException">The memory file is disposed.</exception>
    public FileSeals Seals
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return MemoryFileCalls.Seals(_handle);
        }
    }

    /// <summary>Creates a memory file of <paramref name="length"/> zero bytes, mapped for writing.</summary>
    /// <param name="length">Its size in bytes; it can never change once the file is sealed.</param>
    /// <returns>The memory file, which the caller disposes.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is negative.</exception>
    /// <exception cref="IOException">The kernel refused: out of descriptors, memory or address space.</exception>
    /// <include file="Docs/Exceptions.xml" path="exceptions/platform/*"/>
    public static MemoryFile Create(long length)
    {
        Validate.Platform();
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        SafeFileHandle handle = MemoryFileCalls.Create(length);
        try
        {
            return new MemoryFile(handle, length == 0 ? null : Mapping.Create(handle, length, writable: true), length);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Part of the file, writable, without a copy.</summary>
    /// <param name="offset">Where the part starts.</param>
    /// <param name="length">Its length.</param>
    /// <exception cref="ArgumentOutOfRangeException">The part is not within the file.</exception>
    /// <exception cref="ObjectDisposedException">The memory file is disposed.</exception>
    /// <exception cref="InvalidOperationException">It is sealed against writes.</exception>
    public Span<byte> GetSpan(long offset, int length) => MappedSpans.Part(WritableMapping(), Length, offset, length);

    /// <summary>
    /// Seals the file: from now on the sealed changes fail for every process, this one included. Sealing against
    /// <see cref="FileSeals.Write"/> first unmaps the writable mapping (the kernel refuses the seal while one exists),
    /// so <see cref="Span"/> throws afterwards. Seal before sending: a process that mapped the file writable meanwhile
    /// would make the seal fail.
    /// </summary>
    /// <param name="seals">
    /// The seals to add; by default <see cref="FileSeals.Immutable"/> and <see cref="FileSeals.Seal"/>. A buffer reused
    /// for many messages takes <see cref="FileSeals.Shrink"/> | <see cref="FileSeals.Grow"/>: a fixed size keeps
    /// receivers' mappings safe while the content changes.
    /// </param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="seals"/> holds a value that is no seal.</exception>
    /// <exception cref="ObjectDisposedException">The memory file is disposed.</exception>
    /// <exception cref="InvalidOperationException">It was sealed against further seals already.</exception>
    /// <exception cref="IOException">
    /// The kernel refused, e.g. because another process has it mapped writable; when <paramref name="seals"/> has
    /// <see cref="FileSeals.Write"/>, this process's writable mapping is gone all the same.
    /// </exception>
    /// <remarks>macOS has no seals: this only unmaps the writable mapping when <paramref name="seals"/> has <see cref="FileSeals.Write"/>.</remarks>
    public void Seal(FileSeals seals = FileSeals.Immutable | FileSeals.Seal)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if ((seals & ~MemoryFileCheck.AllSeals) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(seals), seals, "Only Seal, Shrink, Grow and Write are seals.");
        }

        if ((seals & FileSeals.Write) != 0)
        {
            _writable = false;
            _mapping?.Dispose();
            _mapping = null;
        }

        if (OperatingSystem.IsLinux() && (seals & ~MemoryFileCalls.Seals(_handle)) != 0)
        {
            MemoryFileCalls.AddSeals(_handle, seals);
        }
    }

    /// <summary>Unmaps the file and closes its descriptor; the file lives on in processes it was sent to.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _mapping?.Dispose();
        _mapping = null;
        _handle.Dispose();
    }

    private Mapping? WritableMapping()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _writable
            ? _mapping
            : throw new InvalidOperationException("The memory file is sealed against writes; its writable mapping is gone.");
    }
}
