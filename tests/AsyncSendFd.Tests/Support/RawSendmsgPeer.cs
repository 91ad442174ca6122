using System.Diagnostics;
using System.Net.Sockets;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Tests.Support;

/// <summary>
/// A python3 process on the other end of a Unix stream socket, speaking raw <c>socket.sendmsg</c> with whatever
/// ancillary data the test's script chooses. The .NET side listens on a temporary path; python connects, waits
/// for <see cref="Go"/> (so the test can configure its end first), runs <c>body(s)</c> and exits.
/// </summary>
/// <remarks>
/// python3 is required: a missing interpreter fails the test rather than skipping it. Nothing is redirected,
/// so the child costs this process no descriptors; a python error is written to a file and reported by
/// <see cref="WaitForExit"/>.
/// </remarks>
internal sealed class RawSendmsgPeer : IDisposable
{
    /// <summary>Helpers every script can use: <c>rights</c>, <c>creds</c>, <c>marked</c>, <c>good</c>.</summary>
    /// <summary>Linux SO_PASSCRED: the kernel adds SCM_CREDENTIALS to every message this end receives.</summary>
    public const int SoPassCred = 16;

    /// <summary>Linux SO_PASSPIDFD (6.5): the kernel installs a pidfd of the sender with every message this end receives.</summary>
    public const int SoPassPidFd = 76;

    private const int SolSocket = 1;

    private const string Prelude = """
        import array, os, socket, struct, sys, time, traceback

        def rights(fds):
            return (socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', fds).tobytes())

        def creds():
            return (socket.SOL_SOCKET, socket.SCM_CREDENTIALS, struct.pack('iII', os.getpid(), os.getuid(), os.getgid()))

        def marked(text):
            # The read end of a pipe holding `text`: the receiver can tell which descriptor it got.
            r, w = os.pipe()
            os.write(w, text.encode())
            os.close(w)
            return r

        def good(s):
            # The closing message every case sends: four bytes carrying one descriptor marked 'good'.
            s.sendmsg([b'good'], [rights([marked('good')])])

        def main():
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(sys.argv[1])
            if s.recv(1) != b'g':
                raise SystemExit('no go byte')
            body(s)

        """;

    private const string Epilogue = """

        try:
            main()
        except BaseException:
            with open(sys.argv[2], 'w') as f:
                f.write(traceback.format_exc())
            os._exit(1)
        """;

    private readonly Process _process;
    private readonly string _directory;
    private readonly string _errorFile;

    private RawSendmsgPeer(Process process, string directory, string errorFile, Socket socket)
    {
        _process = process;
        _directory = directory;
        _errorFile = errorFile;
        Socket = socket;
    }

    /// <summary>The .NET end of the connection.</summary>
    public Socket Socket { get; }

    public int ProcessId => _process.Id;

    /// <summary>Starts python with <paramref name="script"/>, which must define <c>body(s)</c>, and accepts its connection.</summary>
    public static RawSendmsgPeer Start(string script)
    {
        string python = FindPython3();
        string directory = Directory.CreateTempSubdirectory("asf-peer-").FullName;
        string path = Path.Combine(directory, "s");
        string errorFile = Path.Combine(directory, "error");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);

        var start = new ProcessStartInfo(python) { UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(Prelude + script + Epilogue);
        start.ArgumentList.Add(path);
        start.ArgumentList.Add(errorFile);
        Process process = Process.Start(start) ?? throw new InvalidOperationException("python3 did not start");

        Task<Socket> accept = listener.AcceptAsync();
        if (!accept.Wait(TimeSpan.FromSeconds(20)))
        {
            process.Kill();
            throw new TimeoutException($"python3 did not connect within 20 s{ReadError(errorFile)}");
        }

        Socket socket = accept.Result;
        socket.ReceiveTimeout = 20_000; // a broken case fails instead of hanging the run
        return new RawSendmsgPeer(process, directory, errorFile, socket);
    }

    /// <summary>Sets a Linux SOL_SOCKET option on this (the .NET) end before <see cref="Go"/>.</summary>
    public void EnableOption(int option) => Socket.SetRawSocketOption(SolSocket, option, BitConverter.GetBytes(1));

    /// <summary>Lets the script run.</summary>
    public void Go() => Socket.Send("g"u8);

    /// <summary>
    /// Receives the script's closing <c>good(s)</c> message (one descriptor of a file reading "good"), then end of
    /// stream, then waits for the script to exit: the connection survived whatever came before.
    /// </summary>
    public void AssertGoodMessageThenEnd()
    {
        using (SafeFileHandle good = Socket.ReceiveFd())
        {
            Assert.Equal("good", TestNative.ReadText(good));
        }

        var slots = new SafeFileHandle?[4];
        Assert.Equal(new FdReceiveResult(0, 0), Socket.ReceiveFds(new byte[16], slots));
        WaitForExit();
    }

    /// <summary>Waits for the script to finish and fails with its traceback if it raised.</summary>
    public void WaitForExit()
    {
        if (!_process.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            _process.Kill();
            throw new TimeoutException("python3 peer did not exit within 30 s");
        }

        if (_process.ExitCode != 0)
        {
            throw new InvalidOperationException($"python3 peer exited with {_process.ExitCode}{ReadError(_errorFile)}");
        }
    }

    public void Dispose()
    {
        Socket.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }

        _process.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>The python3 interpreter on PATH; its absence is a test failure, never a skip.</summary>
    public static string FindPython3()
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':'))
        {
            string candidate = Path.Combine(dir, "python3");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException("python3 is required by the hostile-peer tests and was not found on PATH.");
    }

    private static string ReadError(string errorFile) =>
        File.Exists(errorFile) ? ":\n" + File.ReadAllText(errorFile) : "";
}
