using AsyncSendFd.MemoryFiles;
using AsyncSendFd.Sockets;
using AsyncSendFd.Syscalls;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd;

/// <summary>
/// A memory file received from another process, checked before it was mapped, and mapped read-only: what a
/// <see cref="MemoryFile"/> becomes on the receiving side.
/// </summary>
/// <remarks>
/// <para>
/// Mapping a file from a peer you do not fully trust is unsafe without the checks <see cref="Open"/> makes: a peer
/// that truncates a mapped file makes the reader crash with SIGBUS, and one that keeps writing changes data after it
/// was checked. Seals rule both out, for good, and the kernel reports them.
/// </para>
/// <para>
/// macOS has no seals. It does size a POSIX shared memory object once, so a sized object counts as sealed against
/// <see cref="FileSeals.Shrink"/> and <see cref="FileSeals.Grow"/>, but nothing stops the sender from writing to it:
/// the default requirement, <see cref="FileSeals.Immutable"/>, refuses every file there, and a receiver that accepts
/// changing content says so by requiring <c>FileSeals.Shrink | FileSeals.Grow</c>. macOS also reports the size rounded
/// up to the page size.
/// </para>
/// <para>
/// Spans point into the mapping: do not use them after <see cref="Dispose"/>. The type is not safe for concurrent use.
/// </para>
/// </remarks>
public sealed class ReadOnlyMemoryFile : IDisposable
{
    private readonly SafeFileHandle _handle;
    private Mapping? _mapping;
    private bool _disposed;

    private ReadOnlyMemoryFile(SafeFileHandle handle, Mapping? mapping, MemoryFileFacts facts)
    {
        _handle = handle;
        _mapping = mapping;
        Length = facts.Length;
        Seals = facts.Seals;
    }

    /// <summary>Its size in bytes, as the kernel reports it.</summary>
    public long Length { get; }

    /// <summary>The seals it carried when it was opened; seals are never removed, so they still hold.</summary>
    public FileSeals Seals { get; }

    /// <summary>The descriptor, to pass the file on. It is owned by this object: do not dispose it.</summary>
    /// <exception cref="ObjectDisposedException">Disposed.</exception>
    public SafeFileHandle Handle
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _handle;
        }
    }

    /// <summary>The whole file, read-only, without a copy: the mapping itself.</summary>
    /// <exception cref="ObjectDisposedException">Disposed.</exception>
    /// <exception cref="InvalidOperationException">The file is larger than a span (2 GiB): use <see cref="GetSpan"/>.</exception>
    public ReadOnlySpan<byte> Span => MappedSpans.Whole(Mapped(), Length);

    /// <summary>
    /// Checks that a received descriptor is a memory file with the seals and size required and maps it read-only. The
    /// descriptor is consumed: on success the returned object owns it; when a check fails it is closed.
    /// </summary>
    /// <param name="handle">The received descriptor, e.g. from <see cref="FdMessage.TakeFd"/>.</param>
    /// <param name="requiredSeals">
    /// The seals it must carry; by default <see cref="FileSeals.Immutable"/>. Without <see cref="FileSeals.Shrink"/>
    /// the sender can truncate the file under the mapping and crash this process (SIGBUS) when it reads there.
    /// </param>
    /// <param name="expectedLength">The size it must have (on macOS, rounded up to the page size); any size when null.</param>
    /// <returns>The mapped file, which the caller disposes.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="handle"/> is null.</exception>
    /// <exception cref="ObjectDisposedException"><paramref name="handle"/> is disposed.</exception>
    /// <exception cref="ArgumentException">
    /// <paramref name="handle"/> is invalid, or it was refused and closed: not a memory file, a seal missing, another
    /// size. The message names everything that was missing.
    /// </exception>
    /// <exception cref="ArgumentOutOfRangeException">
    /// <paramref name="requiredSeals"/> holds a value that is no seal, or <paramref name="expectedLength"/> is negative
    /// (the descriptor was closed).
    /// </exception>
    /// <exception cref="IOException">The kernel failed to inspect or map it (it was closed).</exception>
    /// <include file="Docs/Exceptions.xml" path="exceptions/platform/*"/>
    public static ReadOnlyMemoryFile Open(SafeFileHandle handle, FileSeals requiredSeals = FileSeals.Immutable, long? expectedLength = null)
    {
        Validate.Platform();
        Validate.Handle(handle, nameof(handle));
        try
        {
            if ((requiredSeals & ~MemoryFileCheck.AllSeals) != 0)
            {
                throw new ArgumentOutOfRangeException(nameof(requiredSeals), requiredSeals, "Only Seal, Shrink, Grow and Write are seals.");
            }

            if (expectedLength < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(expectedLength), expectedLength, "A length is not negative.");
            }

            // Seals first: once the size is sealed, the size read next cannot change before the mapping is made.
            MemoryFileFacts facts = MemoryFileCalls.Inspect(handle);
            if (MemoryFileCheck.Refusal(facts, requiredSeals, expectedLength, MemoryFilePlatform.Current!) is { } refusal)
            {
                throw new ArgumentException(refusal + " It was closed.", nameof(handle));
            }

            Mapping? mapping = facts.Length == 0 ? null : Mapping.Create(handle, facts.Length, writable: false);
            return new ReadOnlyMemoryFile(handle, mapping, facts);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Part of the file, read-only, without a copy.</summary>
    /// <param name="offset">Where the part starts.</param>
    /// <param name="length">Its length.</param>
    /// <exception cref="ArgumentOutOfRangeException">The part is not within the file.</exception>
    /// <exception cref="ObjectDisposedException">Disposed.</exception>
    public ReadOnlySpan<byte> GetSpan(long offset, int length) => MappedSpans.Part(Mapped(), Length, offset, length);

    /// <summary>Unmaps the file and closes its descriptor.</summary>
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

    private Mapping? Mapped()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _mapping;
    }
}
