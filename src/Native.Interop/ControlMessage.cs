using System.Runtime.InteropServices;

namespace AsyncSendFd.Native.Interop;

/// <summary>One control message as read by <see cref="ControlMessageReader"/>: a view into the caller's buffer.</summary>
public readonly ref struct ControlMessage
{
    internal ControlMessage(int level, int type, ReadOnlySpan<byte> data, bool isTruncated)
    {
        Level = level;
        Type = type;
        Data = data;
        IsTruncated = isTruncated;
    }

    /// <summary><c>cmsg_level</c>.</summary>
    public int Level { get; }

    /// <summary><c>cmsg_type</c>.</summary>
    public int Type { get; }

    /// <summary>The data: <c>cmsg_len</c> minus the header, cut at the end of the buffer if <see cref="IsTruncated"/>.</summary>
    public ReadOnlySpan<byte> Data { get; }

    /// <summary>
    /// <see langword="true"/> when <c>cmsg_len</c> claimed more than the buffer holds (macOS leaves the
    /// untruncated length in a truncated header). <see cref="Data"/> then holds only what is present.
    /// </summary>
    public bool IsTruncated { get; }

    /// <summary>
    /// The whole descriptors in <see cref="Data"/>, read as <c>int</c>s. Meaningful for <c>SCM_RIGHTS</c>;
    /// a trailing partial descriptor of a truncated message is left out.
    /// </summary>
    public ReadOnlySpan<int> Descriptors => MemoryMarshal.Cast<byte, int>(Data);
}
