namespace AsyncSendFd.Internal;

/// <summary>One outgoing message: its data and descriptors, sent by <see cref="MessageSender"/>'s loops.</summary>
internal interface ISendAttempt
{
    int DataLength { get; }

    /// <summary>References every descriptor for the length of the call.</summary>
    void AddRefDescriptors();

    void ReleaseDescriptors();

    /// <summary>One non-blocking sendmsg of the data from <paramref name="offset"/>, with the descriptors if asked.</summary>
    /// <returns>Bytes sent, or minus errno.</returns>
    nint TrySend(int socket, int offset, bool withDescriptors);
}
