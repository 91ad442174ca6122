namespace AsyncSendFd.Native.Interop.Darwin;

// <sys/un.h>: the options of a Unix domain socket at level SOL_LOCAL, where macOS keeps the peer's credentials.
public static partial class LibC
{
#pragma warning disable CS1591 // The native names are the documentation: see unix(4).
    public const int SOL_LOCAL = 0;
    public const int LOCAL_PEERCRED = 1;
    public const int LOCAL_PEERPID = 2;
#pragma warning restore CS1591
}
