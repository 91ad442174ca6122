namespace AsyncSendFd.Internal;

/// <summary>One outgoing message: its data and descriptors, sent by <see cref="MessageSender"/>'s loops.</summary>
internal interface ISendAttempt
{
    int DataLength { get; }

    /// <summary>
    /// Whether the message goes to an explicit address. An unconnected datagram socket reads as writable however
    /// full the destination is, so such a send backs off on a timer instead of waiting for writability.
    /// </summary>
    bool HasDestination { get; }

    /// <summary>Reads the caller's descriptors once and references each for the length of the call.</summary>
    void TakeDescriptors();

    /// <summary>Releases exactly what <see cref="TakeDescriptors"/> referenced.</summary>
    void ReleaseDescriptors();

    /// <summary>One non-blocking sendmsg of the data from <paramref name="offset"/>, with the descriptors if asked.</summary>
    /// <returns>Bytes sent, or minus errno.</returns>
    nint TrySend(int socket, int offset, bool withDescriptors);
}
