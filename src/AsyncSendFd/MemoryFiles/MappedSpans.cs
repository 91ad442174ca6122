namespace AsyncSendFd.MemoryFiles;

/// <summary>Spans over a mapping, bounds-checked, the same for the writer and the reader.</summary>
internal static unsafe class MappedSpans
{
    /// <summary>The whole file; a file of 0 bytes has no mapping and an empty span.</summary>
    /// <exception cref="InvalidOperationException">The file is larger than a span can cover.</exception>
    public static Span<byte> Whole(Mapping? mapping, long length)
    {
        if (length > int.MaxValue)
        {
            throw new InvalidOperationException(
                $"The memory file is {length} bytes, more than one span can cover; take it in parts with GetSpan(offset, length).");
        }

        return Part(mapping, length, 0, (int)length);
    }

    /// <exception cref="ArgumentOutOfRangeException">The range is not within the file.</exception>
    public static Span<byte> Part(Mapping? mapping, long fileLength, long offset, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(offset, fileLength - length);
        return mapping is null ? Span<byte>.Empty : new Span<byte>(mapping.Pointer + offset, length);
    }
}
