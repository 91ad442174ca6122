using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Tests.Support;

/// <summary>Which form of the API a theory row calls: the blocking one or its async twin.</summary>
public enum Api
{
    Sync,
    Async,
}

/// <summary>
/// The blocking and the async form of each call behind one signature, so one theory covers both, as
/// dotnet/runtime's SendReceive tests do over their SocketHelper adapters. A Sync call runs on the calling thread
/// and completes before it returns: use it where the message is already there (or the send cannot stall).
/// </summary>
internal static class FdApi
{
    public static async Task<FdReceiveResult> ReceiveFds(this Socket socket, Api api, Memory<byte> data, SafeFileHandle?[] fds) =>
        api == Api.Sync ? socket.ReceiveFds(data.Span, fds) : await socket.ReceiveFdsAsync(data, fds);

    public static async Task<SafeFileHandle> ReceiveFd(this Socket socket, Api api) =>
        api == Api.Sync ? socket.ReceiveFd() : await socket.ReceiveFdAsync();

    public static async Task<Socket> ReceiveSocket(this Socket socket, Api api) =>
        api == Api.Sync ? socket.ReceiveSocket() : await socket.ReceiveSocketAsync();

    public static async Task SendFds(this Socket socket, Api api, ReadOnlyMemory<byte> data, SafeHandle[] fds)
    {
        if (api == Api.Sync)
        {
            socket.SendFds(data.Span, fds);
        }
        else
        {
            await socket.SendFdsAsync(data, fds);
        }
    }

    public static async Task SendFd(this Socket socket, Api api, SafeHandle fd)
    {
        if (api == Api.Sync)
        {
            socket.SendFd(fd);
        }
        else
        {
            await socket.SendFdAsync(fd);
        }
    }
}
