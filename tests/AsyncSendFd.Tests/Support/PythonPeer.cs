using System.Diagnostics;
using System.Net.Sockets;
using static AsyncSendFd.Tests.Support.Timeouts;

namespace AsyncSendFd.Tests.Support;

/// <summary>
/// A python3 child connected to a Unix stream socket that .NET listens on. A missing python3 makes the test
/// fail (Process.Start throws), never skip.
/// </summary>
internal sealed class PythonPeer : IDisposable
{
    /// <summary>Prepended to every script: sock is the connected socket.</summary>
    private const string Prelude = """
        import os, socket, sys
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(sys.argv[1])

        """;

    private readonly Process _process;
    private readonly Task<string> _stderr;
    private readonly string _directory;

    private PythonPeer(Process process, Socket socket, string directory)
    {
        _process = process;
        _stderr = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        Socket = socket;
        _directory = directory;
    }

    public Socket Socket { get; }

    public static async Task<PythonPeer> StartAsync(string script)
    {
        string directory = Directory.CreateTempSubdirectory("asyncsendfd-py-").FullName;
        string path = Path.Combine(directory, "sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);

        var start = new ProcessStartInfo("python3")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(Prelude + script);
        start.ArgumentList.Add(path);
        Process process = Process.Start(start) ?? throw new InvalidOperationException("python3 did not start");

        using var cts = new CancellationTokenSource(Guard);
        Task<Socket> accept = listener.AcceptAsync(cts.Token).AsTask();
        Task exited = process.WaitForExitAsync(cts.Token);
        if (await Task.WhenAny(accept, exited) != accept)
        {
            string stderr = await process.StandardError.ReadToEndAsync();
            throw new Xunit.Sdk.XunitException($"python3 exited ({process.ExitCode}) before connecting:\n{stderr}");
        }

        Socket socket = await accept;
        socket.ReceiveTimeout = (int)Guard.TotalMilliseconds;
        socket.SendTimeout = (int)Guard.TotalMilliseconds;
        return new PythonPeer(process, socket, directory);
    }

    /// <summary>Waits for the script to finish and asserts it exited with 0.</summary>
    public async Task AssertSucceededAsync()
    {
        using var cts = new CancellationTokenSource(Guard);
        await _process.WaitForExitAsync(cts.Token);
        string stderr = await _stderr;
        Assert.True(_process.ExitCode == 0, $"python3 exited with {_process.ExitCode}:\n{stderr}");
    }

    public void Dispose()
    {
        Socket.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit(Guard);
        }

        // Process.Dispose leaves redirected streams read directly (not through the Begin*ReadLine events) open until
        // their finalizers run, which would then change the descriptor count of whichever test runs at that moment.
        _process.StandardOutput.Dispose();
        _process.StandardError.Dispose();
        _process.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
