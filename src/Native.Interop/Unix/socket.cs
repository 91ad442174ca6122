using System.Runtime.InteropServices;

namespace AsyncSendFd.Native.Interop.Unix;

// <sys/socket.h>: the functions whose signatures Linux and macOS share. sendmsg and recvmsg take each
// platform's own msghdr, so they live in Linux/socket.cs and Darwin/socket.cs with the layouts.
public static unsafe partial class LibC
{
    /// <summary>Creates a pair of connected sockets in <c>sv[0]</c> and <c>sv[1]</c>.</summary>
    [LibraryImport(Name, SetLastError = true)]
    public static partial int socketpair(int domain, int type, int protocol, int* sv);

    /// <summary>Reads a socket option.</summary>
    [LibraryImport(Name, SetLastError = true)]
    public static partial int getsockopt(int socket, int level, int option_name, void* option_value, uint* option_len);

    /// <summary>Sets a socket option.</summary>
    [LibraryImport(Name, SetLastError = true)]
    public static partial int setsockopt(int socket, int level, int option_name, void* option_value, uint option_len);
}
