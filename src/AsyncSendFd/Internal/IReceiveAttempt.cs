namespace AsyncSendFd.Internal;

/// <summary>What one recvmsg attempt came to.</summary>
internal enum ReceiveStatus
{
    Received,
    WouldBlock,
    EndOfStream,
    Failed,
}

/// <summary>What to receive into and what to return, for <see cref="MessageReceiver"/>'s loops.</summary>
internal interface IReceiveAttempt<TResult>
{
    /// <summary>One non-blocking recvmsg.</summary>
    /// <param name="socket">The descriptor.</param>
    /// <param name="result">The result when <see cref="ReceiveStatus.Received"/>.</param>
    /// <param name="errno">The error when <see cref="ReceiveStatus.Failed"/>.</param>
    ReceiveStatus TryReceive(int socket, out TResult result, out int errno);

    /// <summary>The result at end of stream, or the exception that reports it.</summary>
    TResult AtEndOfStream();

    /// <summary>The result for an empty datagram with no descriptor (datagram sockets have no end of stream).</summary>
    TResult EmptyDatagram();
}
