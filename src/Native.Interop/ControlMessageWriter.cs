using System.Runtime.InteropServices;

namespace AsyncSendFd.Native.Interop;

/// <summary>
/// Builds control messages for <c>sendmsg</c> in a caller-provided buffer (stackalloc suits it:
/// 252 descriptors take 1,024 bytes), with <c>cmsg_len</c> = <c>CMSG_LEN</c> and every padding byte zeroed.
/// </summary>
/// <remarks>
/// Pass <see cref="Written"/> as <c>msg_control</c> and its length as <c>msg_controllen</c>: macOS requires
/// <c>msg_controllen</c> to be exactly the sum of the messages' <c>CMSG_SPACE</c>. For descriptors, write
/// one <c>SCM_RIGHTS</c> message holding all of them; macOS rejects a second one.
/// </remarks>
public ref struct ControlMessageWriter
{
    private readonly Span<byte> _buffer;
    private readonly ControlMessageLayout _layout;
    private int _written;

    /// <summary>Starts writing at the beginning of <paramref name="buffer"/> in the given layout.</summary>
    public ControlMessageWriter(Span<byte> buffer, ControlMessageLayout layout)
    {
        _buffer = buffer;
        _layout = layout;
        _written = 0;
    }

    /// <summary>Bytes written so far, padding included: the <c>msg_controllen</c> to send.</summary>
    public readonly int BytesWritten => _written;

    /// <summary>The messages written so far.</summary>
    public readonly Span<byte> Written => _buffer[.._written];

    /// <summary>Appends one control message.</summary>
    /// <exception cref="ArgumentException">The buffer has no room for <c>CMSG_SPACE(data.Length)</c> more bytes.</exception>
    public void Write(int level, int type, ReadOnlySpan<byte> data)
    {
        int space = _layout.Space(data.Length);
        if (space > _buffer.Length - _written)
        {
            throw new ArgumentException(
                $"The control buffer has {_buffer.Length - _written} bytes left; the message needs {space}.", nameof(data));
        }

        Span<byte> message = _buffer.Slice(_written, space);
        message.Clear();
        int length = _layout.Length(data.Length);
        if (_layout.LengthSize == sizeof(ulong))
        {
            MemoryMarshal.Write(message, (ulong)length);
        }
        else
        {
            MemoryMarshal.Write(message, (uint)length);
        }

        MemoryMarshal.Write(message[_layout.LevelOffset..], level);
        MemoryMarshal.Write(message[_layout.TypeOffset..], type);
        data.CopyTo(message[_layout.HeaderSize..]);
        _written += space;
    }

    /// <summary>Appends one <c>SCM_RIGHTS</c> message carrying <paramref name="descriptors"/>.</summary>
    /// <exception cref="ArgumentException">The buffer is too small.</exception>
    public void WriteRights(ReadOnlySpan<int> descriptors) =>
        Write(_layout.SocketLevel, _layout.RightsType, MemoryMarshal.AsBytes(descriptors));
}
