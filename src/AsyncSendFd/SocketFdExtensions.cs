using System.Net.Sockets;

namespace AsyncSendFd;

/// <summary>
/// Passes open file descriptors between processes over Unix domain sockets (<c>SCM_RIGHTS</c>).
/// </summary>
/// <remarks>
/// <para>
/// Ownership: a sent handle stays the caller's; it is neither closed nor disposed, and is referenced only
/// around the sendmsg that carries it (a socket's descriptor is copied for it instead, so that disposing the
/// socket never shuts it down), so a concurrent Dispose cannot close it mid-syscall and never waits for a
/// send that is waiting (the send then fails with <see cref="ObjectDisposedException"/> before its first
/// byte). A received handle is the caller's to dispose; it owns its descriptor, which is close-on-exec.
/// The full contract is docs/contract.md in the repository.
/// </para>
/// <para>
/// The library must own every read on a socket that receives descriptors: a plain
/// <see cref="Socket.Receive(byte[])"/> drops (Linux) or leaks (macOS) any descriptor riding on the bytes it reads.
/// </para>
/// <para>
/// Concurrent sends on one socket never interleave their bytes, and concurrent receives never split
/// a message. Waiting for buffer space or data holds no thread in the async methods.
/// </para>
/// </remarks>
public static partial class SocketFdExtensions
{
    /// <summary>
    /// Largest number of descriptors one message may carry on every supported OS
    /// (Linux caps at 253 per sendmsg, macOS at 254, musl 1.2.3 and older at 252).
    /// </summary>
    public const int MaxFdsPerMessage = 252;
}
