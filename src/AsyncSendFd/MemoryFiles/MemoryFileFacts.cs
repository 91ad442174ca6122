namespace AsyncSendFd.MemoryFiles;

/// <summary>What the kernel says about a descriptor offered as a memory file, learned before anything is mapped.</summary>
/// <param name="IsMemoryFile">Whether it is a memory file (Linux: it can carry seals; macOS: a POSIX shared memory object).</param>
/// <param name="Seals">The seals it carries, or on macOS the ones the kernel enforces without being asked.</param>
/// <param name="Length">Its size in bytes.</param>
internal readonly record struct MemoryFileFacts(bool IsMemoryFile, FileSeals Seals, long Length);
