using System.Net.Sockets;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Hosting.Internal;

/// <summary>Conversions between the descriptor types the protocol receives and the ones callers use.</summary>
internal static class Handles
{
    /// <summary>Moves a received descriptor into a <see cref="Socket"/>; <paramref name="handle"/> no longer owns it.</summary>
    public static Socket ToSocket(SafeFileHandle handle)
    {
        var socketHandle = new SafeSocketHandle(handle.DangerousGetHandle(), ownsHandle: true);
        handle.SetHandleAsInvalid();
        try
        {
            return new Socket(socketHandle);
        }
        catch
        {
            socketHandle.Dispose();
            throw;
        }
    }
}
