namespace AsyncSendFd;

/// <summary>
/// The seals of a memory file: each forbids one kind of change, to every process, the one that created the file
/// included, for the rest of the file's life. Seals are added (<see cref="MemoryFile.Seal"/>), never removed, so a
/// seal found on a received file holds for as long as the file exists.
/// </summary>
/// <remarks>
/// Linux file seals (<c>fcntl(F_ADD_SEALS)</c>, Linux 3.17+). macOS has no seals; what it promises instead is listed
/// with <see cref="ReadOnlyMemoryFile.Open"/>.
/// </remarks>
[Flags]
public enum FileSeals
{
    /// <summary>No seal.</summary>
    None = 0,

    /// <summary>No more seals can be added (<c>F_SEAL_SEAL</c>).</summary>
    Seal = 1 << 0,

    /// <summary>The file cannot shrink (<c>F_SEAL_SHRINK</c>): a mapping of it never loses pages, so reading it cannot raise SIGBUS.</summary>
    Shrink = 1 << 1,

    /// <summary>The file cannot grow (<c>F_SEAL_GROW</c>).</summary>
    Grow = 1 << 2,

    /// <summary>Its content cannot change (<c>F_SEAL_WRITE</c>): no write, no writable shared mapping, by anyone.</summary>
    Write = 1 << 3,

    /// <summary>
    /// <see cref="Shrink"/>, <see cref="Grow"/> and <see cref="Write"/>: size and content fixed for good, what a
    /// receiver needs before it maps a file from a peer it does not fully trust.
    /// </summary>
    Immutable = Shrink | Grow | Write,
}
