namespace AsyncSendFd.Sockets;

/// <summary>
/// A blocking call's <see cref="System.Net.Sockets.Socket.SendTimeout"/> or <see cref="System.Net.Sockets.Socket.ReceiveTimeout"/>
/// as one deadline for the whole call, started at its first wait, so spurious wake-ups do not restart it.
/// </summary>
internal struct Deadline
{
    private long _at;

    public readonly bool IsStarted => _at != 0;

    /// <param name="timeoutMilliseconds">The socket's timeout; 0 or less means none. Read only when a wait is needed: it boxes.</param>
    public void Start(int timeoutMilliseconds) =>
        _at = timeoutMilliseconds > 0 ? Environment.TickCount64 + timeoutMilliseconds : long.MaxValue;

    /// <summary>Milliseconds left, or -1 for no deadline.</summary>
    public readonly int RemainingMilliseconds =>
        _at == long.MaxValue ? Timeout.Infinite : (int)Math.Max(0, _at - Environment.TickCount64);
}
