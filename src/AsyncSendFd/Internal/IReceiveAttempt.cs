namespace AsyncSendFd.Internal;

/// <summary>What to receive into and what to return, for <see cref="MessageReceiver"/>'s loops.</summary>
internal interface IReceiveAttempt<TResult>
{
    /// <summary>One non-blocking recvmsg.</summary>
    /// <returns><see langword="true"/> with the result, or <see langword="false"/> with errno.</returns>
    bool TryReceive(int socket, out TResult result, out int errno);
}
