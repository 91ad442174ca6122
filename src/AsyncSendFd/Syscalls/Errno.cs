using System.Runtime.InteropServices;
using Darwin = AsyncSendFd.Native.Interop.Darwin;
using Linux = AsyncSendFd.Native.Interop.Linux;

namespace AsyncSendFd.Syscalls;

/// <summary>
/// How a syscall or a readiness wait ended: <see cref="Success"/>, or the platform's errno. The one form in which
/// syscalls and waits report failure, as .NET's own engine uses <c>Interop.Error</c>; each direction's loop turns it
/// into an exception in one place (<see cref="Sockets.Exceptions.FromErrno"/>). Disposed handles and refused messages
/// are exceptions from the start.
/// </summary>
/// <remarks>
/// A wait adds no codes of its own: it ends with <see cref="Success"/> (retry the syscall; a disposed socket is
/// reported by the retry), <see cref="ETIMEDOUT"/> (a blocking call's deadline), the errno of an engine that could not
/// start or arm the descriptor, or the errno that broke the engine.
/// A canceled async wait throws <see cref="OperationCanceledException"/> instead.
/// </remarks>
internal readonly record struct Errno(int Value)
{
    public static readonly Errno EAGAIN = new(Os.IsLinux ? Linux.LibC.EAGAIN : Os.IsMacOS ? Darwin.LibC.EAGAIN : 0);

    public static readonly Errno EINTR = new(Os.IsLinux ? Linux.LibC.EINTR : Os.IsMacOS ? Darwin.LibC.EINTR : 0);

    public static readonly Errno ETIMEDOUT = new(Os.IsLinux ? Linux.LibC.ETIMEDOUT : Os.IsMacOS ? Darwin.LibC.ETIMEDOUT : 0);

    public static Errno Success => default;

    public bool IsSuccess => Value == 0;

    /// <summary>The errno of the P/Invoke that just failed on this thread.</summary>
    public static Errno Last => new(Marshal.GetLastPInvokeError());

    public override string ToString() => IsSuccess ? "success" : $"errno {Value}";
}
