using System.Runtime.InteropServices;

namespace AsyncSendFd.Native.Interop.Darwin;

// <unistd.h>: what macOS needs beyond Unix.LibC. Its off_t is 64-bit, like everything on 64-bit macOS.
public static partial class LibC
{
    /// <summary>Sets the size of a file; a shared memory object accepts this once, when it has no size yet.</summary>
    [LibraryImport(Unix.LibC.Name, SetLastError = true)]
    public static partial int ftruncate(int fildes, long length);
}
