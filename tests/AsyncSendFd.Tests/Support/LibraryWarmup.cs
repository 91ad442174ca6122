using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Tests.Support;

/// <summary>
/// Runs every library path once before the first baseline is taken, so lazily loaded assemblies (each a mapped
/// file descriptor while loading) and the readiness engine's kernel queue are not mistaken for leaks.
/// </summary>
internal static class LibraryWarmup
{
    private static readonly Lazy<bool> Done = new(Run);

    public static void Ensure() => _ = Done.Value;

    /// <summary>
    /// Starts the readiness engine if it is not running, so its own descriptor (epoll, or kqueue) is
    /// in a baseline rather than counted as a leak. The one place the suite's helpers reach into the engine.
    /// </summary>
    public static void StartEngine() => _ = AsyncSendFd.Engine.EngineHost.Shared.TryGetEngine(out _);

    private static bool Run()
    {
        StartEngine();
        using var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile();
        pair.Left.SendFd(file);
        pair.Right.ReceiveFd().Dispose();
        pair.Left.SendFdAsync(file).AsTask().GetAwaiter().GetResult();
        pair.Right.ReceiveFdAsync().AsTask().GetAwaiter().GetResult().Dispose();
        pair.Left.SendFds([1, 2], [file, file]);
        var slots = new SafeFileHandle?[1];
        try
        {
            pair.Right.ReceiveFds(new byte[2], slots);
        }
        catch (IOException)
        {
        }

        pair.Left.SendSocket(pair.Left);
        pair.Right.ReceiveSocket().Dispose();
        pair.Left.SendFdsAsync(new byte[1], new SafeHandle[] { file }).AsTask().GetAwaiter().GetResult();
        var two = new SafeFileHandle?[2];
        pair.Right.ReceiveFdsAsync(new byte[1], two).AsTask().GetAwaiter().GetResult();
        two[0]?.Dispose();
        _ = pair.Left.GetPeerCredentials();
        return true;
    }
}
