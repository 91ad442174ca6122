using System.Runtime.InteropServices;
using AsyncSendFd.Native.Interop.Unix;

namespace AsyncSendFd.Internal;

/// <summary>
/// Waits for sockets to become writable on one dedicated thread with poll(2), so that any number of
/// senders stalled on full sockets hold no thread each. .NET has no public way to await writability.
/// </summary>
/// <remarks>
/// poll(2) behaves the same on Linux and macOS, so this one path is what both run and what the tests
/// exercise. A registration adds the socket to the watched set and wakes the thread through a pipe;
/// the thread completes a waiter on any event (POLLOUT, POLLHUP, POLLERR, POLLNVAL) and the sender
/// retries its sendmsg, which reports the real state.
/// </remarks>
internal sealed unsafe class WritabilityMonitor
{
    private static readonly Lazy<WritabilityMonitor> SharedInstance = new(() => new WritabilityMonitor());

    private readonly Lock _lock = new();
    private readonly List<WritableSignal> _waiting = [];
    private readonly int _wakeReader;
    private readonly int _wakeWriter;

    private WritabilityMonitor()
    {
        int* fds = stackalloc int[2];
        if (LibC.pipe(fds) != 0)
        {
            throw new IOException($"Could not create the writability monitor's wake pipe (errno {Marshal.GetLastPInvokeError()}).");
        }

        _wakeReader = fds[0];
        _wakeWriter = fds[1];
        foreach (int fd in new[] { _wakeReader, _wakeWriter })
        {
            NativeSocket.SetCloseOnExec(fd);
            NativeSocket.SetNonBlocking(fd);
        }

        var thread = new Thread(Run) { IsBackground = true, Name = "AsyncSendFd writability" };
        thread.UnsafeStart();
    }

    public static WritabilityMonitor Shared => SharedInstance.Value;

    /// <summary>Starts watching <paramref name="signal"/>'s socket, unless its wait was canceled already.</summary>
    /// <returns><see langword="false"/> when cancellation came first.</returns>
    public bool TryRegister(WritableSignal signal)
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
    public bool TryCancel(WritableSignal signal)
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
        var signals = new WritableSignal[16];
        var ready = new List<WritableSignal>();
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
                    signals = new WritableSignal[(count + 1) * 2];
                }

                polled[0] = new pollfd { fd = _wakeReader, events = NativeSocket.PollIn };
                for (int i = 0; i < count; i++)
                {
                    signals[i + 1] = _waiting[i];
                    polled[i + 1] = new pollfd { fd = _waiting[i].Socket, events = NativeSocket.PollOut };
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

            foreach (WritableSignal signal in ready)
            {
                signal.SetReady();
            }

            ready.Clear();
        }
    }
}
