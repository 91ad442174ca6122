using AsyncSendFd.Native.Interop.Unix;
using Darwin = AsyncSendFd.Native.Interop.Darwin;
using Linux = AsyncSendFd.Native.Interop.Linux;

namespace AsyncSendFd.Syscalls;

/// <summary>Calls on any descriptor: its flags, whether it is open, closing it.</summary>
internal static class DescriptorCalls
{
    private static readonly int GetFd = Os.IsLinux ? Linux.LibC.F_GETFD : Os.IsMacOS ? Darwin.LibC.F_GETFD : 0;
    private static readonly int SetFd = Os.IsLinux ? Linux.LibC.F_SETFD : Os.IsMacOS ? Darwin.LibC.F_SETFD : 0;
    private static readonly int CloseOnExec = Os.IsLinux ? Linux.LibC.FD_CLOEXEC : Os.IsMacOS ? Darwin.LibC.FD_CLOEXEC : 0;
    private static readonly int DuplicateFd = Os.IsLinux ? Linux.LibC.F_DUPFD_CLOEXEC : Os.IsMacOS ? Darwin.LibC.F_DUPFD_CLOEXEC : 0;

    /// <summary>
    /// Sets <c>FD_CLOEXEC</c> on a descriptor that could not get it atomically: received or made by socketpair on macOS,
    /// or passed by systemd.
    /// </summary>
    public static void SetCloseOnExec(int fd)
    {
        int current = LibC.fcntl(fd, GetFd, 0);
        if (current >= 0 && (current & CloseOnExec) == 0)
        {
            _ = LibC.fcntl(fd, SetFd, current | CloseOnExec);
        }
    }

    /// <summary>A close-on-exec copy of <paramref name="fd"/>, or -1 (errno set) when there is none.</summary>
    public static int DuplicateCloseOnExec(int fd) => LibC.fcntl(fd, DuplicateFd, 0);

    /// <summary>Whether <paramref name="fd"/> is an open descriptor: fcntl(F_GETFD) fails with EBADF otherwise.</summary>
    public static bool IsOpen(int fd) =>
        LibC.fcntl(fd, GetFd, 0) >= 0;

    /// <summary>Closes a descriptor that nobody else owns, ignoring errors (there is no one left to report them to).</summary>
    public static void CloseQuietly(int fd) => _ = LibC.close(fd);
}
