using System.Runtime.InteropServices;

namespace AsyncSendFd.Native.Interop;

/// <summary>
/// Walks the control messages that <c>recvmsg</c> returned, as <c>CMSG_FIRSTHDR</c>/<c>CMSG_NXTHDR</c> do,
/// but bounded: no header and no data is ever read past the end of the buffer.
/// </summary>
/// <remarks>
/// Give it the control buffer cut to the <c>msg_controllen</c> that <c>recvmsg</c> returned.
/// The reader never throws. A header that claims less than its own size ends the walk and sets
/// <see cref="IsMalformed"/>; one that claims more than the buffer holds is returned once with
/// <see cref="ControlMessage.IsTruncated"/> set and also sets <see cref="IsMalformed"/>.
/// A caller that owns the descriptors should close every one it saw when <see cref="IsMalformed"/> is set.
/// </remarks>
public ref struct ControlMessageReader
{
    private readonly ReadOnlySpan<byte> _buffer;
    private readonly ControlMessageLayout _layout;
    private int _offset;

    /// <summary>Starts a walk over <paramref name="control"/> in the given layout.</summary>
    public ControlMessageReader(ReadOnlySpan<byte> control, ControlMessageLayout layout)
    {
        _buffer = control;
        _layout = layout;
        _offset = 0;
        IsMalformed = false;
    }

    /// <summary>
    /// <see langword="true"/> once the walk met a header whose length is impossible or runs past the buffer,
    /// or trailing bytes too short for a header.
    /// </summary>
    public bool IsMalformed { get; private set; }

    /// <summary>Reads the next control message.</summary>
    /// <returns><see langword="false"/> at the end of the buffer or after a malformed header.</returns>
    public bool TryReadNext(out ControlMessage message)
    {
        message = default;
        ReadOnlySpan<byte> rest = _buffer[_offset..];
        if (rest.Length < _layout.HeaderSize)
        {
            // Fewer bytes than a header: only legitimate as nothing at all.
            if (!rest.IsEmpty)
            {
                IsMalformed = true;
                _offset = _buffer.Length;
            }

            return false;
        }

        ulong declared = _layout.LengthSize == sizeof(ulong)
            ? MemoryMarshal.Read<ulong>(rest)
            : MemoryMarshal.Read<uint>(rest);
        int level = MemoryMarshal.Read<int>(rest[_layout.LevelOffset..]);
        int type = MemoryMarshal.Read<int>(rest[_layout.TypeOffset..]);

        if (declared < (ulong)_layout.HeaderSize)
        {
            IsMalformed = true;
            _offset = _buffer.Length;
            return false;
        }

        if (declared > (ulong)rest.Length)
        {
            IsMalformed = true;
            _offset = _buffer.Length;
            message = new ControlMessage(level, type, rest[_layout.HeaderSize..], isTruncated: true);
            return true;
        }

        int length = (int)declared;
        message = new ControlMessage(level, type, rest[_layout.HeaderSize..length], isTruncated: false);

        // The last message may omit its trailing padding; never step past the end. length is at most
        // rest.Length, an int, so its aligned value fits a nuint of either width.
        nuint padded = ControlMessageLayout.CmsgAlign((nuint)length, (nuint)_layout.Alignment);
        _offset += (int)Math.Min(padded, (nuint)rest.Length);
        return true;
    }
}
