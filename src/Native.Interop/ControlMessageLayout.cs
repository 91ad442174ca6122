namespace AsyncSendFd.Native.Interop;

/// <summary>
/// The shape of <c>struct cmsghdr</c> and the CMSG_* arithmetic of one platform, as data, so that
/// one reader and one writer serve Linux and macOS and the macOS figures can be tested anywhere.
/// </summary>
/// <remarks>
/// A control message is a header (<c>cmsg_len</c>, <c>cmsg_level</c>, <c>cmsg_type</c>) padded to
/// <see cref="Alignment"/>, then its data, then padding up to the next aligned boundary.
/// <c>cmsg_len</c> counts the header and the data but not the trailing padding.
/// </remarks>
public readonly struct ControlMessageLayout : IEquatable<ControlMessageLayout>
{
    /// <summary>Linux on 64-bit targets: 8-byte <c>cmsg_len</c>, 16-byte header, 8-byte alignment.</summary>
    public static ControlMessageLayout Linux64 { get; } = new(lengthSize: 8, alignment: 8, socketLevel: 1, rightsType: 1);

    /// <summary>Linux on 32-bit targets (arm32): 4-byte <c>cmsg_len</c>, 12-byte header, 4-byte alignment.</summary>
    public static ControlMessageLayout Linux32 { get; } = new(lengthSize: 4, alignment: 4, socketLevel: 1, rightsType: 1);

    /// <summary>macOS (x64 and arm64): 4-byte <c>cmsg_len</c>, 12-byte header, 4-byte alignment, <c>SOL_SOCKET</c> 0xffff.</summary>
    public static ControlMessageLayout Darwin { get; } = new(lengthSize: 4, alignment: 4, socketLevel: 0xffff, rightsType: 1);

    /// <summary>The layout of the running platform.</summary>
    /// <exception cref="PlatformNotSupportedException">The platform is neither Linux nor macOS.</exception>
    public static ControlMessageLayout Current =>
        OperatingSystem.IsLinux() ? (IntPtr.Size == 8 ? Linux64 : Linux32)
        : OperatingSystem.IsMacOS() ? Darwin
        : throw new PlatformNotSupportedException("SCM_RIGHTS control messages are supported on Linux and macOS.");

    private ControlMessageLayout(int lengthSize, int alignment, int socketLevel, int rightsType)
    {
        LengthSize = lengthSize;
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
    public int HeaderSize => Align(LengthSize + (2 * sizeof(int)));

    /// <summary><c>CMSG_ALIGN(length)</c>.</summary>
    public int Align(int length) => (length + Alignment - 1) & ~(Alignment - 1);

    /// <summary><c>CMSG_LEN(dataLength)</c>: the value for <c>cmsg_len</c>.</summary>
    public int Length(int dataLength) => HeaderSize + dataLength;

    /// <summary><c>CMSG_SPACE(dataLength)</c>: the buffer room one message takes, padding included.</summary>
    public int Space(int dataLength) => HeaderSize + Align(dataLength);

    /// <summary><c>CMSG_SPACE(count * sizeof(int))</c>: the room for one <c>SCM_RIGHTS</c> message.</summary>
    public int SpaceForDescriptors(int count) => Space(count * sizeof(int));

    /// <inheritdoc/>
    public bool Equals(ControlMessageLayout other) =>
        LengthSize == other.LengthSize && Alignment == other.Alignment
        && SocketLevel == other.SocketLevel && RightsType == other.RightsType;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is ControlMessageLayout other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(LengthSize, Alignment, SocketLevel, RightsType);

    /// <summary>Compares two layouts field by field.</summary>
    public static bool operator ==(ControlMessageLayout left, ControlMessageLayout right) => left.Equals(right);

    /// <summary>Compares two layouts field by field.</summary>
    public static bool operator !=(ControlMessageLayout left, ControlMessageLayout right) => !left.Equals(right);
}
