using System.Runtime.InteropServices;
using AsyncSendFd.Native.Interop.Unix;

namespace AsyncSendFd.Internal;

/// <summary>
/// Waits for sockets to become writable or readable on one dedicated thread with poll(2), so that any
/// number of stalled senders and idle receivers hold no thread each. .NET has no public way to await
/// writability.
/// </summary>
/// <remarks>
/// <para>
/// poll(2) behaves the same on Linux and macOS, so this one path is what both run and what the tests
/// exercise. A registration adds the socket to the watched set and wakes the thread through a pipe;
/// the thread completes a waiter on any event (the one asked for, POLLHUP, POLLERR, POLLNVAL) and the
/// caller retries its syscall, which reports the real state.
/// </para>
/// <para>
/// Receives wait here too rather than in a zero-byte <see cref="System.Net.Sockets.Socket.ReceiveAsync(Memory{byte}, System.Net.Sockets.SocketFlags, CancellationToken)"/>:
/// that registers the socket edge-triggered in .NET's epoll for good, and its event thread then wakes
/// on every message the peer sends, waited for or not (measured: one wake-up per four descriptors in a
/// busy pipeline). A socket is watched here only while someone waits on it.
/// </para>
/// </remarks>
internal sealed unsafe class ReadinessMonitor
{
    private static readonly Lazy<ReadinessMonitor> SharedInstance = new(() => new ReadinessMonitor());

    private readonly Lock _lock = new();
    private readonly List<ReadinessSignal> _waiting = [];
    private readonly int _wakeReader;
    private readonly int _wakeWriter;

    private ReadinessMonitor()
    {
        int* fds = stackalloc int[2];
        if (LibC.pipe(fds) != 0)
        {
            throw new IOException($"Could not create the readiness monitor's wake pipe (errno {Marshal.GetLastPInvokeError()}).");
        }

        _wakeReader = fds[0];
        _wakeWriter = fds[1];
        foreach (int fd in new[] { _wakeReader, _wakeWriter })
        {
            NativeSocket.SetCloseOnExec(fd);
            NativeSocket.SetNonBlocking(fd);
        }

        var thread = new Thread(Run) { IsBackground = true, Name = "AsyncSendFd readiness" };
        thread.UnsafeStart();
    }

    public static ReadinessMonitor Shared => SharedInstance.Value;

    /// <summary>Starts watching <paramref name="signal"/>'s socket for its events, unless its wait was canceled already.</summary>
    /// <returns><see langword="false"/> when cancellation came first.</returns>
    public bool TryRegister(ReadinessSignal signal)
    {
        lock (_lock)
        {
            if (signal.CancelRequested)
            {
                return false;
            }

            _waiting.Add(signal);
        }

        Wake();
        return true;
    }

    /// <summary>Stops watching; whoever removes the signal completes it.</summary>
    public bool TryCancel(ReadinessSignal signal)
    {
        lock (_lock)
        {
            signal.CancelRequested = true;
            return _waiting.Remove(signal);
        }
    }

    private void Wake()
    {
        byte one = 1;
        _ = LibC.write(_wakeWriter, &one, 1); // EAGAIN means a wake-up is pending already
    }

    private void Run()
    {
        var polled = new pollfd[16];
        var signals = new ReadinessSignal[16];
        var ready = new List<ReadinessSignal>();
        byte* drain = stackalloc byte[64];

        while (true)
        {
            int count;
            lock (_lock)
            {
                count = _waiting.Count;
                if (polled.Length < count + 1)
                {
                    polled = new pollfd[(count + 1) * 2];
                    signals = new ReadinessSignal[(count + 1) * 2];
                }

                polled[0] = new pollfd { fd = _wakeReader, events = NativeSocket.PollIn };
                for (int i = 0; i < count; i++)
                {
                    signals[i + 1] = _waiting[i];
                    polled[i + 1] = new pollfd { fd = _waiting[i].Socket, events = _waiting[i].Events };
                }
            }

            int result;
            fixed (pollfd* entries = polled)
            {
                result = LibC.poll(entries, (nuint)(count + 1), -1);
            }

            if (result <= 0)
            {
                continue; // EINTR
            }

            if (polled[0].revents != 0)
            {
                while (LibC.read(_wakeReader, drain, 64) == 64)
                {
                }
            }

            lock (_lock)
            {
                for (int i = 1; i <= count; i++)
                {
                    if (polled[i].revents != 0 && _waiting.Remove(signals[i]))
                    {
                        ready.Add(signals[i]);
                    }

                    signals[i] = null!;
                }
            }

            foreach (ReadinessSignal signal in ready)
            {
                signal.SetReady();
            }

            ready.Clear();
        }
    }
}
