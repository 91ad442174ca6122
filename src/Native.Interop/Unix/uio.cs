namespace AsyncSendFd.Native.Interop.Unix;

/// <summary><c>struct iovec</c> from &lt;sys/uio.h&gt;: one buffer of a scatter/gather list.</summary>
/// <remarks>The same shape on Linux and macOS: a pointer, then a <c>size_t</c>.</remarks>
public unsafe struct iovec
{
    /// <summary>Start of the buffer.</summary>
    public void* iov_base;

    /// <summary>Length of the buffer in bytes.</summary>
    public nuint iov_len;
}
