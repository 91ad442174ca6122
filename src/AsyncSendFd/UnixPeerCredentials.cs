namespace AsyncSendFd;

/// <summary>The process on the other end of a Unix socket, as the kernel recorded it at connect or socketpair time.</summary>
/// <param name="ProcessId">The peer's process id (0 where the kernel does not report one).</param>
/// <param name="UserId">The peer's effective user id.</param>
/// <param name="GroupId">The peer's effective group id.</param>
public readonly record struct UnixPeerCredentials(int ProcessId, uint UserId, uint GroupId);
