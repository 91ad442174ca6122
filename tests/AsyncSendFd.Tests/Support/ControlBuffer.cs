using System.Runtime.InteropServices;
using AsyncSendFd.Native.Interop;

namespace AsyncSendFd.Tests.Support;

/// <summary>
/// Builds a control-message buffer (msg_control) byte by byte in a given layout, independently of
/// <see cref="ControlMessageWriter"/>, so the reader is not only checked against the writer. Headers carry whatever
/// cmsg_len they are given, valid or not.
/// </summary>
internal sealed class ControlBuffer(ControlMessageLayout layout)
{
    /// <summary>Linux SCM_CREDENTIALS, the type SO_PASSCRED adds to every message.</summary>
    public const int ScmCredentials = 2;

    /// <summary>sizeof(struct ucred) on Linux: pid, uid, gid.</summary>
    public const int UcredSize = 12;

    private readonly List<byte> _bytes = [];

    public int Count => _bytes.Count;

    /// <summary>The layouts by name, for theories: Linux 64-bit, Linux 32-bit and macOS.</summary>
    public static TheoryData<string> LayoutNames() => new("Linux64", "Linux32", "Darwin");

    public static ControlMessageLayout Layout(string name) => name switch
    {
        "Linux64" => ControlMessageLayout.Linux64,
        "Linux32" => ControlMessageLayout.Linux32,
        "Darwin" => ControlMessageLayout.Darwin,
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };

    /// <summary>A cmsghdr with this cmsg_len, level and type (cmsg_len is 8 bytes on Linux 64-bit, else 4 and cut to 32 bits).</summary>
    public ControlBuffer Header(ulong cmsgLen, int level, int type)
    {
        var header = new byte[layout.HeaderSize];
        if (layout.LengthSize == sizeof(ulong))
        {
            MemoryMarshal.Write(header, cmsgLen);
        }
        else
        {
            MemoryMarshal.Write(header, unchecked((uint)cmsgLen)); // cut to the field's width, as C would
        }

        MemoryMarshal.Write(header.AsSpan(layout.LevelOffset), level);
        MemoryMarshal.Write(header.AsSpan(layout.TypeOffset), type);
        _bytes.AddRange(header);
        return this;
    }

    /// <summary>A header at SOL_SOCKET/SCM_RIGHTS with this cmsg_len.</summary>
    public ControlBuffer RightsHeader(ulong cmsgLen) => Header(cmsgLen, layout.SocketLevel, layout.RightsType);

    /// <summary>Native ints (descriptors, ucred fields) as they sit in cmsg data.</summary>
    public ControlBuffer Ints(params int[] values)
    {
        _bytes.AddRange(MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
        return this;
    }

    public ControlBuffer Bytes(byte value, int count)
    {
        _bytes.AddRange(Enumerable.Repeat(value, count));
        return this;
    }

    /// <summary>Zeroes up to <paramref name="length"/> bytes in all.</summary>
    public ControlBuffer PadTo(int length)
    {
        if (length < _bytes.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, $"already {_bytes.Count} bytes");
        }

        return Bytes(0, length - _bytes.Count);
    }

    /// <summary>A well-formed SCM_RIGHTS message: cmsg_len CMSG_LEN(4n), the descriptors, padding to CMSG_SPACE.</summary>
    public ControlBuffer Rights(params int[] fds)
    {
        int start = _bytes.Count;
        return RightsHeader((ulong)layout.Length(fds.Length * sizeof(int))).Ints(fds).PadTo(start + layout.SpaceForDescriptors(fds.Length));
    }

    /// <summary>A well-formed SCM_CREDENTIALS message (a 12-byte struct ucred), padded to CMSG_SPACE.</summary>
    public ControlBuffer Credentials(int pid, int uid, int gid)
    {
        int start = _bytes.Count;
        return Header((ulong)layout.Length(UcredSize), layout.SocketLevel, ScmCredentials).Ints(pid, uid, gid).PadTo(start + layout.Space(UcredSize));
    }

    public byte[] ToArray() => [.. _bytes];
}
