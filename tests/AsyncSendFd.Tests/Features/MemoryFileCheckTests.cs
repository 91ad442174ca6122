using AsyncSendFd.MemoryFiles;
using AsyncSendFd.Syscalls;
using AsyncSendFd.Tests.Support;
using Linux = AsyncSendFd.Native.Interop.Linux;

namespace AsyncSendFd.Tests.Features;

/// <summary>
/// The receiver's verdict from a descriptor's facts, for both platforms' tables: what Linux can promise (every seal)
/// and what macOS can (a fixed size once sized, never fixed content), so the macOS checks run here too.
/// </summary>
public class MemoryFileCheckTests
{
    private static readonly MemoryFilePlatform MacOS4K = MemoryFilePlatform.MacOS with { SizeGranularity = 4096 };

    [Fact]
    public void Linux_SealedMemoryFile_Passes()
    {
        var facts = new MemoryFileFacts(true, FileSeals.Immutable | FileSeals.Seal, 100);

        Assert.Null(MemoryFileCheck.Refusal(facts, FileSeals.Immutable, 100, MemoryFilePlatform.Linux));
        Assert.Null(MemoryFileCheck.Refusal(facts, FileSeals.Immutable | FileSeals.Seal, null, MemoryFilePlatform.Linux));
    }

    [Fact]
    public void Linux_NotAMemoryFile_IsRefusedForThatAlone()
    {
        var facts = new MemoryFileFacts(false, FileSeals.None, 0);

        string? refusal = MemoryFileCheck.Refusal(facts, FileSeals.Immutable, 100, MemoryFilePlatform.Linux);

        Assert.Equal(
            "The descriptor is not a memory file: it cannot carry file seals (F_GET_SEALS fails with EINVAL), so it is a file on disk, a socket, a pipe or a device.",
            refusal);
    }

    [Fact]
    public void Linux_MissingSealsAndWrongLength_AreNamedTogether()
    {
        var facts = new MemoryFileFacts(true, FileSeals.Grow, 4096);

        string? refusal = MemoryFileCheck.Refusal(facts, FileSeals.Immutable, 8192, MemoryFilePlatform.Linux);

        Assert.Equal("The memory file is not sealed against Shrink, Write (its seals: Grow). It is 4096 bytes, not the 8192 expected.", refusal);
    }

    [Fact]
    public void Linux_WrongLengthAlone_IsNamed()
    {
        var facts = new MemoryFileFacts(true, FileSeals.Immutable, 4096);

        Assert.Equal(
            "The memory file is 4096 bytes, not the 4097 expected.",
            MemoryFileCheck.Refusal(facts, FileSeals.Immutable, 4097, MemoryFilePlatform.Linux));
    }

    [Fact]
    public void MacOS_DefaultRequirement_IsRefused_SayingMacOSCannotSealAgainstWrite()
    {
        var facts = new MemoryFileFacts(true, FileSeals.Shrink | FileSeals.Grow, 16384);

        string? refusal = MemoryFileCheck.Refusal(facts, FileSeals.Immutable, null, MemoryFilePlatform.MacOS);

        Assert.Equal(
            "The memory file is not sealed against Write (its seals: Shrink, Grow). macOS cannot seal a file against Write: to accept one from a peer you trust, leave that out of the required seals.",
            refusal);
    }

    [Fact]
    public void MacOS_WaivingWrite_AcceptsASizedSharedMemoryObject()
    {
        var facts = new MemoryFileFacts(true, FileSeals.Shrink | FileSeals.Grow, 16384);

        Assert.Null(MemoryFileCheck.Refusal(facts, FileSeals.Shrink | FileSeals.Grow, null, MemoryFilePlatform.MacOS));
        Assert.Null(MemoryFileCheck.Refusal(facts, FileSeals.None, null, MemoryFilePlatform.MacOS));
    }

    [Fact]
    public void MacOS_UnsizedObject_CanStillGrow_AndIsRefusedForIt()
    {
        // Size 0: the sender may still size it once, so macOS promises nothing about its size yet.
        var facts = new MemoryFileFacts(true, FileSeals.None, 0);

        Assert.Equal(
            "The memory file is not sealed against Shrink, Grow (its seals: none).",
            MemoryFileCheck.Refusal(facts, FileSeals.Shrink | FileSeals.Grow, null, MemoryFilePlatform.MacOS));
    }

    [Fact]
    public void MacOS_ExpectedLength_IsComparedRoundedUpToThePageSize()
    {
        Assert.Null(MemoryFileCheck.Refusal(new(true, FileSeals.Shrink | FileSeals.Grow, 8192), FileSeals.None, 5000, MacOS4K));
        Assert.Null(MemoryFileCheck.Refusal(new(true, FileSeals.Shrink | FileSeals.Grow, 8192), FileSeals.None, 8192, MacOS4K));

        Assert.Equal(
            "The memory file is 8192 bytes, not the 9000 expected (12288 once macOS rounds it up to its page size).",
            MemoryFileCheck.Refusal(new(true, FileSeals.Shrink | FileSeals.Grow, 8192), FileSeals.None, 9000, MacOS4K));
    }

    [Fact]
    public void MacOS_AFileWithAType_IsNotAMemoryFile()
    {
        Assert.Equal(
            "The descriptor is not a memory file: fstat reports a file type, and macOS reports none for a POSIX shared memory object.",
            MemoryFileCheck.Refusal(new(false, FileSeals.None, 10), FileSeals.None, null, MemoryFilePlatform.MacOS));
    }

    [Fact]
    public void MacOS_CanPromiseAFixedSize_NeverFixedContent()
    {
        Assert.Equal(FileSeals.Shrink | FileSeals.Grow, MemoryFilePlatform.MacOS.Enforceable);
        Assert.Equal(Environment.SystemPageSize, MemoryFilePlatform.MacOS.SizeGranularity);
        Assert.Equal(FileSeals.Immutable | FileSeals.Seal, MemoryFilePlatform.Linux.Enforceable);
    }

    [Fact]
    public void Describe_ListsSealsInAFixedOrder_OrNone()
    {
        Assert.Equal("none", MemoryFileCheck.Describe(FileSeals.None));
        Assert.Equal("Shrink, Grow, Write, Seal", MemoryFileCheck.Describe(FileSeals.Seal | FileSeals.Immutable));
        Assert.Equal("Grow, Seal", MemoryFileCheck.Describe(FileSeals.Seal | FileSeals.Grow));
    }

    [LinuxFact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void LinuxSealBits_RoundTrip_AndNewerSealsAreLeftOut()
    {
        Assert.Equal(
            Linux.LibC.F_SEAL_SEAL | Linux.LibC.F_SEAL_SHRINK | Linux.LibC.F_SEAL_GROW | Linux.LibC.F_SEAL_WRITE,
            MemoryFileCalls.ToLinuxSeals(FileSeals.Seal | FileSeals.Immutable));
        Assert.Equal(Linux.LibC.F_SEAL_GROW, MemoryFileCalls.ToLinuxSeals(FileSeals.Grow));

        // F_SEAL_FUTURE_WRITE (0x10) does not stop writes through mappings made before it, and F_SEAL_EXEC (0x20) is no
        // promise about content: neither counts as a FileSeals seal.
        Assert.Equal(FileSeals.Shrink | FileSeals.Write, MemoryFileCalls.FromLinuxSeals(Linux.LibC.F_SEAL_SHRINK | Linux.LibC.F_SEAL_WRITE | 0x10 | 0x20));
        Assert.Equal(FileSeals.None, MemoryFileCalls.FromLinuxSeals(0x10));
    }

    [Fact]
    public void SharedMemoryObjectName_IsSlashPrefixedHexWithinXnusLimit()
    {
        Span<byte> name = stackalloc byte[MemoryFileCalls.SharedMemoryObjectNameSize];

        MemoryFileCalls.SharedMemoryObjectName([0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF], name);

        Assert.Equal("/asyncsendfd.0123456789abcdef\0"u8.ToArray(), name.ToArray());
        Assert.True(name.Length <= 32, "xnu takes at most 31 bytes and the NUL (PSHMNAMLEN)");
    }
}
