namespace AsyncSendFd.Native.Interop.Linux;

// include/net/scm.h, a kernel header that no userspace header mirrors: the limit sendmsg enforces.
public static partial class LibC
{
    /// <summary>Most descriptors one <c>sendmsg</c> may carry (<c>SCM_MAX_FD</c>, include/net/scm.h): more fail with <c>EINVAL</c>.</summary>
    public const int SCM_MAX_FD = 253;
}
