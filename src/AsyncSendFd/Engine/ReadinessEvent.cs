namespace AsyncSendFd.Engine;

/// <summary>
/// One event from the kernel: the token a registration was armed with, and the directions now worth retrying.
/// An error or hang-up counts as both, because the retried syscall is what reports it.
/// </summary>
internal readonly record struct ReadinessEvent(ulong Token, Interest Ready);
