using DarwinCmsghdr = AsyncSendFd.Native.Interop.Darwin.cmsghdr;
using DarwinLibC = AsyncSendFd.Native.Interop.Darwin.LibC;
using LinuxLibC = AsyncSendFd.Native.Interop.Linux.LibC;

namespace AsyncSendFd.Native.Interop;

/// <summary>
/// The shape of <c>struct cmsghdr</c> and the CMSG_* arithmetic of one platform, as data, so that
/// one reader and one writer serve Linux and macOS and the macOS figures can be tested anywhere.
/// </summary>
/// <remarks>
/// A control message is a header (<c>cmsg_len</c>, <c>cmsg_level</c>, <c>cmsg_type</c>) padded to
/// <see cref="Alignment"/>, then its data, then padding up to the next aligned boundary.
/// <c>cmsg_len</c> counts the header and the data but not the trailing padding.
/// This type holds the only implementation of that arithmetic: the platforms' <c>LibC.CMSG_ALIGN</c>,
/// <c>CMSG_LEN</c>, <c>CMSG_SPACE</c> and <c>CMSG_DATA</c> call it with their own <c>sizeof(cmsghdr)</c>.
/// </remarks>
public readonly unsafe struct ControlMessageLayout : IEquatable<ControlMessageLayout>
{
    // The platforms' analyzer attributes guard calls into macOS and Linux; here the Darwin and Linux types are
    // only measured with sizeof and their constants are folded in at compile time, so nothing runs on either.
#pragma warning disable CA1416

    /// <summary>Linux on 64-bit targets: 8-byte <c>cmsg_len</c>, 16-byte header, 8-byte alignment.</summary>
    public static ControlMessageLayout Linux64 { get; } = Linux(sizeOfSizeT: sizeof(ulong));

    /// <summary>Linux on 32-bit targets (arm32): 4-byte <c>cmsg_len</c>, 12-byte header, 4-byte alignment.</summary>
    public static ControlMessageLayout Linux32 { get; } = Linux(sizeOfSizeT: sizeof(uint));

    /// <summary>macOS (x64 and arm64): 4-byte <c>cmsg_len</c>, 12-byte header, 4-byte alignment, <c>SOL_SOCKET</c> 0xffff.</summary>
    public static ControlMessageLayout Darwin { get; } = new(
        lengthSize: sizeof(uint), // cmsg_len is a socklen_t
        sizeOfHeader: sizeof(DarwinCmsghdr),
        alignment: sizeof(uint), // __DARWIN_ALIGN32, on every architecture
        socketLevel: DarwinLibC.SOL_SOCKET,
        rightsType: DarwinLibC.SCM_RIGHTS);

    /// <summary>
    /// Linux declares <c>struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; }</c>. The C# struct
    /// (<see cref="Linux.cmsghdr"/>) has a <c>nuint</c> <c>cmsg_len</c>, so its <c>sizeof</c> is only the running
    /// process's, and no struct here has the other width; both layouts must hold on any host (the tests check the
    /// 32-bit one on 64-bit machines). So each is built from those three fields with its own <c>size_t</c>: they
    /// are naturally aligned, with no padding, so their sum is <c>sizeof(struct cmsghdr)</c>, 16 or 12 bytes, and
    /// <c>CMSG_ALIGN</c> rounds to <c>sizeof(size_t)</c>. LinuxLayoutTests checks the running one against the C compiler.
    /// </summary>
    private static ControlMessageLayout Linux(int sizeOfSizeT) => new(
        lengthSize: sizeOfSizeT,
        sizeOfHeader: sizeOfSizeT + sizeof(int) + sizeof(int),
        alignment: sizeOfSizeT,
        socketLevel: LinuxLibC.SOL_SOCKET,
        rightsType: LinuxLibC.SCM_RIGHTS);
#pragma warning restore CA1416

    /// <summary>The layout of the running platform.</summary>
    /// <exception cref="PlatformNotSupportedException">The platform is neither Linux nor macOS.</exception>
    public static ControlMessageLayout Current =>
        OperatingSystem.IsLinux() ? LinuxLibC.ControlMessageLayout
        : OperatingSystem.IsMacOS() ? DarwinLibC.ControlMessageLayout
        : throw new PlatformNotSupportedException("SCM_RIGHTS control messages are supported on Linux and macOS.");

    private readonly int _sizeOfHeader;

    private ControlMessageLayout(int lengthSize, int sizeOfHeader, int alignment, int socketLevel, int rightsType)
    {
        LengthSize = lengthSize;
        _sizeOfHeader = sizeOfHeader;
        Alignment = alignment;
        SocketLevel = socketLevel;
        RightsType = rightsType;
    }

    /// <summary>Size of <c>cmsg_len</c> in bytes (<c>size_t</c> on Linux, <c>socklen_t</c> on macOS).</summary>
    public int LengthSize { get; }

    /// <summary>Alignment of headers and data: <c>sizeof(size_t)</c> on Linux, 4 on macOS.</summary>
    public int Alignment { get; }

    /// <summary><c>SOL_SOCKET</c>, the level of <c>SCM_RIGHTS</c> messages.</summary>
    public int SocketLevel { get; }

    /// <summary><c>SCM_RIGHTS</c>.</summary>
    public int RightsType { get; }

    /// <summary>Offset of <c>cmsg_level</c> within the header.</summary>
    public int LevelOffset => LengthSize;

    /// <summary>Offset of <c>cmsg_type</c> within the header.</summary>
    public int TypeOffset => LengthSize + sizeof(int);

    /// <summary><c>CMSG_ALIGN(sizeof(struct cmsghdr))</c>: where the data starts.</summary>
    public int HeaderSize => (int)CmsgLen(0, (nuint)_sizeOfHeader, (nuint)Alignment);

    // The int methods below work in nuint, C's size_t, and cut the result back to int. Both are modular
    // arithmetic on two's complement, so the low 32 bits, and thus every result, are what int arithmetic gives.

    /// <summary><c>CMSG_ALIGN(length)</c>.</summary>
    public int Align(int length) => (int)CmsgAlign((nuint)length, (nuint)Alignment);

    /// <summary><c>CMSG_LEN(dataLength)</c>: the value for <c>cmsg_len</c>.</summary>
    public int Length(int dataLength) => (int)CmsgLen((nuint)dataLength, (nuint)_sizeOfHeader, (nuint)Alignment);

    /// <summary><c>CMSG_SPACE(dataLength)</c>: the buffer room one message takes, padding included.</summary>
    public int Space(int dataLength) => (int)CmsgSpace((nuint)dataLength, (nuint)_sizeOfHeader, (nuint)Alignment);

    /// <summary><c>CMSG_SPACE(count * sizeof(int))</c>: the room for one <c>SCM_RIGHTS</c> message.</summary>
    public int SpaceForDescriptors(int count) => Space(count * sizeof(int));

    /// <inheritdoc/>
    public bool Equals(ControlMessageLayout other) =>
        LengthSize == other.LengthSize && _sizeOfHeader == other._sizeOfHeader && Alignment == other.Alignment
        && SocketLevel == other.SocketLevel && RightsType == other.RightsType;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is ControlMessageLayout other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(LengthSize, _sizeOfHeader, Alignment, SocketLevel, RightsType);

    /// <summary>Compares two layouts field by field.</summary>
    public static bool operator ==(ControlMessageLayout left, ControlMessageLayout right) => left.Equals(right);

    /// <summary>Compares two layouts field by field.</summary>
    public static bool operator !=(ControlMessageLayout left, ControlMessageLayout right) => !left.Equals(right);

    /// <summary><c>CMSG_ALIGN(len)</c> on a platform that aligns control messages to <paramref name="alignment"/>, a power of two.</summary>
    internal static nuint CmsgAlign(nuint len, nuint alignment) => (len + alignment - 1) & ~(alignment - 1);

    /// <summary><c>CMSG_LEN(len)</c>: the aligned header, then the data, with no trailing padding.</summary>
    internal static nuint CmsgLen(nuint len, nuint sizeOfHeader, nuint alignment) => CmsgAlign(sizeOfHeader, alignment) + len;

    /// <summary><c>CMSG_SPACE(len)</c>: the aligned header, then the data padded to the alignment.</summary>
    internal static nuint CmsgSpace(nuint len, nuint sizeOfHeader, nuint alignment) =>
        CmsgAlign(sizeOfHeader, alignment) + CmsgAlign(len, alignment);
}
