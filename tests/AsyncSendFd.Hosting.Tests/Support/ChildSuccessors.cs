using System.Diagnostics;
using System.Net.Sockets;

namespace AsyncSendFd.Hosting.Tests.Support;

/// <summary>
/// Successor processes for <see cref="Upgrader.UpgradeAsync"/>, which waits for a connection that presents the one-time
/// token it put in the child's environment. The child is python3: it connects to the control socket, optionally as
/// another user, and passes that connection and its token back to the test over a link, so the test speaks the
/// protocol in the child's name. The child exits when the test hangs up the link (or when the upgrader kills it).
/// </summary>
internal sealed class ChildSuccessors : IDisposable
{
    private const string Script = """
        import os, socket, sys
        control_path, link_path, uid = sys.argv[1], sys.argv[2], int(sys.argv[3])
        link = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        link.connect(link_path)
        if uid >= 0:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        control.connect(control_path)
        token = os.environ.get("ASYNCSENDFD_UPGRADE_TOKEN", "")
        socket.send_fds(link, [b"t" + token.encode()], [control.fileno()])
        control.close()
        link.recv(1)
        """;

    private static readonly Lazy<string> s_python = new(FindPython);

    private readonly Socket _listener;
    private readonly string _linkPath;
    private readonly string _controlPath;

    public ChildSuccessors(string directory, string controlPath)
    {
        // Found now, not inside the upgrade's ready timeout: a version manager's shim alone can take two seconds.
        _ = s_python.Value;
        _linkPath = Path.Combine(directory, "link.sock");
        _controlPath = controlPath;
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(_linkPath));
        _listener.Listen(4);
    }

    /// <summary>Children started by <paramref name="serving"/>'s upgrades, as <paramref name="asUserId"/> when not -1.</summary>
    public static ChildSuccessors StartedBy(ServingGeneration serving, int asUserId = -1)
    {
        var children = new ChildSuccessors(serving.Directory, serving.SocketPath);
        serving.Options.SuccessorStartInfo = () => children.StartInfo(asUserId);
        return children;
    }

    /// <summary>What the upgrader starts: a child that connects as this user, or as <paramref name="asUserId"/> (root only).</summary>
    public ProcessStartInfo StartInfo(int asUserId = -1)
    {
        var start = new ProcessStartInfo(s_python.Value) { UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(Script);
        start.ArgumentList.Add(_controlPath);
        start.ArgumentList.Add(_linkPath);
        start.ArgumentList.Add(asUserId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return start;
    }

    /// <summary>The child's control connection (with the token it was given), and the link whose disposal ends the child.</summary>
    public async Task<(FakeSuccessor Successor, Socket Link)> AcceptAsync()
    {
        using var guard = new CancellationTokenSource(Timeouts.Guard);
        Socket link = await _listener.AcceptAsync(guard.Token);
        var data = new byte[1 + 256];
        var fds = new Microsoft.Win32.SafeHandles.SafeFileHandle?[1];
        FdReceiveResult received = await link.ReceiveFdsAsync(data, fds, guard.Token);
        Assert.Equal(1, received.FdCount);
        Socket control = fds[0]!.ToSocket();
        return (new FakeSuccessor(control, System.Text.Encoding.ASCII.GetString(data, 1, received.BytesReceived - 1)), link);
    }

    public void Dispose() => _listener.Dispose();

    private static string FindPython()
    {
        // The real interpreter, not a version manager's shim: the pid the upgrader waits for must be the one that connects.
        var start = new ProcessStartInfo("python3") { UseShellExecute = false, RedirectStandardOutput = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("import sys; print(sys.executable)");
        using Process process = Process.Start(start) ?? throw new InvalidOperationException("python3 did not start");
        string path = process.StandardOutput.ReadToEnd().Trim();
        process.WaitForExit();
        return path.Length > 0 ? path : throw new InvalidOperationException("python3 did not say where it is");
    }
}
