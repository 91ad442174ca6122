namespace AsyncSendFd.MemoryFiles;

/// <summary>
/// What a platform can promise about a memory file, as data, so that the checks of both platforms run (and are
/// tested) anywhere.
/// </summary>
/// <param name="Name">The platform, as messages name it.</param>
/// <param name="Enforceable">The seals the kernel can enforce at all.</param>
/// <param name="SizeGranularity">What the kernel rounds a memory file's size up to (1: no rounding).</param>
/// <param name="WhatIsNotAMemoryFile">How the platform tells a memory file from other descriptors, for the refusal.</param>
internal sealed record MemoryFilePlatform(string Name, FileSeals Enforceable, long SizeGranularity, string WhatIsNotAMemoryFile)
{
    public static MemoryFilePlatform Linux { get; } = new(
        "Linux",
        FileSeals.Seal | FileSeals.Immutable,
        SizeGranularity: 1,
        "it cannot carry file seals (F_GET_SEALS fails with EINVAL), so it is a file on disk, a socket, a pipe or a device");

    /// <summary>
    /// macOS has no seals, but xnu sizes a POSIX shared memory object once (a second ftruncate fails), so a sized
    /// object can neither shrink nor grow. It rounds the size up to the page size.
    /// </summary>
    public static MemoryFilePlatform MacOS { get; } = new(
        "macOS",
        FileSeals.Shrink | FileSeals.Grow,
        SizeGranularity: Environment.SystemPageSize,
        "fstat reports a file type, and macOS reports none for a POSIX shared memory object");

    /// <summary>The running platform's; null on any other.</summary>
    public static MemoryFilePlatform? Current =>
        OperatingSystem.IsLinux() ? Linux : OperatingSystem.IsMacOS() ? MacOS : null;
}
