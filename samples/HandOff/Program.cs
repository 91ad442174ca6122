using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using AsyncSendFd;
using AsyncSendFd.Systemd;
using HandOff;
using Microsoft.Win32.SafeHandles;

HandOffOptions options;
try
{
    options = HandOffOptions.Parse(args);
}
catch (Exception e) when (e is ArgumentException or FormatException)
{
    Console.Error.WriteLine(e.Message);
    Console.Error.WriteLine(HandOffOptions.Usage);
    return 2;
}

if (options.ShowHelp)
{
    Console.WriteLine(HandOffOptions.Usage);
    return 0;
}

return options.IsSuccessor ? await RunSuccessorAsync(options)
    : options.Serve ? await ServeUnderServiceManagerAsync(options)
    : await RunFirstGenerationAsync(options);

// The daemon as systemd runs it: the listener survives restarts in the fd store, so none is refused.
static async Task<int> ServeUnderServiceManagerAsync(HandOffOptions options)
{
    SystemdFileDescriptor[] passed = [.. SystemdListenFds.Take()];
    Socket listener;
    int listenerIndex = Array.FindIndex(passed, d => d.Name == "listener");
    if (listenerIndex >= 0)
    {
        listener = passed[listenerIndex].ToSocket(); // checked: a descriptor that is no socket is closed and refused
        Log($"took the listener on {listener.LocalEndPoint} back from the service manager");
    }
    else
    {
        listener = new Socket(options.Listen.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(options.Listen);
        listener.Listen(512);
        Log($"listening on {listener.LocalEndPoint}");
    }

    foreach (SystemdFileDescriptor other in passed.Where((_, i) => i != listenerIndex))
    {
        other.Handle.Dispose();
    }

    using (listener)
    {
        if (options.UseFdStore && await SystemdNotify.StoreFdsAsync("listener", new SafeHandle[] { listener.SafeHandle }))
        {
            Log("stored the listener in the service manager's fd store");
        }

        var server = new PingServer(listener);
        server.Start();
        await SystemdNotify.NotifyAsync("READY=1");

        var stop = new TaskCompletionSource();
        using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => { context.Cancel = true; stop.TrySetResult(); });
        using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => { context.Cancel = true; stop.TrySetResult(); });
        await stop.Task;
        await SystemdNotify.NotifyAsync("STOPPING=1");
        await server.StopAcceptingAndDrainAsync();
        Log($"stopping after serving {server.Served} requests");
    }

    return 0;
}

// The running server: serves, starts its successor, hands the listener over, stops accepting and drains.
static async Task<int> RunFirstGenerationAsync(HandOffOptions options)
{
    using var listener = new Socket(options.Listen.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
    listener.Bind(options.Listen);
    listener.Listen(512);
    var endpoint = (IPEndPoint)listener.LocalEndPoint!;
    Log($"generation 1 listening on {endpoint}");

    var server = new PingServer(listener);
    server.Start();
    var client = new LoadClient(endpoint);
    client.Start();
    Log("load client connecting continuously");
    await Task.Delay(options.Phase);

    File.Delete(options.ControlSocket);
    using var control = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
    control.Bind(new UnixDomainSocketEndPoint(options.ControlSocket));
    control.Listen(1);

    using Process successor = StartSuccessor(options);
    Log($"started successor (pid {successor.Id}); waiting for it on {options.ControlSocket}");
    using Socket connection = await control.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(30));

    // Only a process of our own user may take the listener: the kernel vouches for the peer's uid.
    UnixPeerCredentials peer = connection.GetPeerCredentials();
    if (peer.UserId != AsyncSendFd.Native.Interop.Unix.LibC.getuid())
    {
        Log($"refusing control peer pid {peer.ProcessId}: uid {peer.UserId} is not ours");
        return 1;
    }

    await connection.SendSocketAsync(listener);
    var ack = new byte[1];
    if (await connection.ReceiveAsync(ack) != 1)
    {
        Log("successor hung up before taking over");
        return 1;
    }

    Log("successor is accepting; generation 1 stops accepting and drains");
    await server.StopAcceptingAndDrainAsync();
    listener.Close();
    File.Delete(options.ControlSocket);
    Log($"generation 1 drained and closed its copy of the listener after serving {server.Served} requests");

    await Task.Delay(options.Phase);
    await client.StopAsync();
    await connection.SendAsync(new[] { (byte)'q' });
    await successor.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));

    IReadOnlyDictionary<int, int> servedBy = client.ServedBy;
    int byFirst = servedBy.GetValueOrDefault(Environment.ProcessId);
    int bySuccessor = servedBy.GetValueOrDefault(successor.Id);
    Console.WriteLine();
    Console.WriteLine($"served by generation 1 (pid {Environment.ProcessId}): {byFirst}");
    Console.WriteLine($"served by generation 2 (pid {successor.Id}): {bySuccessor}");
    Console.WriteLine($"failed requests: {client.Failed}");
    bool ok = client.Failed == 0 && byFirst > 0 && bySuccessor > 0 && successor.ExitCode == 0;
    Console.WriteLine(ok ? "hand-off complete: no request failed" : "hand-off FAILED");
    return ok ? 0 : 1;
}

// The successor: takes the listener over the control socket and serves until told to stop.
static async Task<int> RunSuccessorAsync(HandOffOptions options)
{
    using var control = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
    await control.ConnectAsync(new UnixDomainSocketEndPoint(options.ControlSocket));
    using Socket listener = await control.ReceiveSocketAsync();
    var server = new PingServer(listener);
    server.Start();
    await control.SendAsync(new byte[] { 1 });
    Log($"generation 2 took over the listener on {listener.LocalEndPoint} and is accepting");

    // Stop on 'q' from the first generation, or on SIGTERM/SIGINT; its mere exit is no reason to stop.
    var stop = new TaskCompletionSource();
    using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => { context.Cancel = true; stop.TrySetResult(); });
    using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => { context.Cancel = true; stop.TrySetResult(); });
    _ = WatchControlAsync(control, stop);
    await stop.Task;

    await server.StopAcceptingAndDrainAsync();
    Log($"generation 2 stopping after serving {server.Served} requests");
    return 0;
}

static async Task WatchControlAsync(Socket control, TaskCompletionSource stop)
{
    var buffer = new byte[1];
    while (await control.ReceiveAsync(buffer) == 1)
    {
        if (buffer[0] == 'q')
        {
            stop.TrySetResult();
            return;
        }
    }
}

static Process StartSuccessor(HandOffOptions options)
{
    var start = new ProcessStartInfo { UseShellExecute = false };
    if (options.SuccessorCommand is { } command)
    {
        string[] parts = command.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        start.FileName = parts[0];
        foreach (string part in parts.Skip(1))
        {
            start.ArgumentList.Add(part);
        }
    }
    else
    {
        // This program again: the native binary when published with NativeAOT, the app host or `dotnet HandOff.dll` otherwise.
        start.FileName = Environment.ProcessPath!;
        if (Path.GetFileNameWithoutExtension(start.FileName) == "dotnet")
        {
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "HandOff.dll"));
        }
    }

    start.ArgumentList.Add("--successor");
    start.ArgumentList.Add("--control-socket");
    start.ArgumentList.Add(options.ControlSocket);
    return Process.Start(start) ?? throw new InvalidOperationException($"Could not start {start.FileName}.");
}

static void Log(string message) => Console.WriteLine($"[{DateTime.Now:HH:mm:ss.fff}] [pid {Environment.ProcessId}] {message}");
