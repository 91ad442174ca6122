using System.Net.Sockets;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Benchmarks.Workloads;

/// <summary>An async ping-pong on one socket pair while other sockets each have a receive pending that never completes.</summary>
internal interface IScalePingPong : IDisposable
{
    /// <summary>One task sends and awaits the answer, an echo task answers; <paramref name="roundTrips"/> times.</summary>
    Task RunAsync(int roundTrips);

    /// <summary>Throws if an idle waiter completed: it must stay pending for the whole measurement.</summary>
    void CheckIdle();
}

/// <summary>
/// <paramref name="count"/> socket pairs whose left ends each have one receive pending (started by
/// <paramref name="startReceive"/>) that never completes: nothing is ever sent on them. Dispose cancels every
/// receive, waits until all have ended, and closes the sockets.
/// </summary>
internal sealed class IdleWaiters(int count, Func<Socket, CancellationToken, Task> startReceive) : IDisposable
{
    private static readonly TimeSpan CancelTimeout = TimeSpan.FromSeconds(120);

    private readonly CancellationTokenSource _cancel = new();
    private readonly List<Socket> _sockets = new(count * 2);
    private readonly List<Task> _pending = new(count);
    private bool _started;

    public int Count => count;

    /// <summary>Creates the pairs and starts the receives (outside any timed region).</summary>
    public void Start()
    {
        _started = true;
        for (int i = 0; i < count; i++)
        {
            (Socket left, Socket right) = UnixSocketPair.Create();
            _sockets.Add(left);
            _sockets.Add(right);
            _pending.Add(startReceive(left, _cancel.Token));
        }

        CheckIdle();
    }

    public void CheckIdle()
    {
        foreach (Task task in _pending)
        {
            if (task.IsCompleted)
            {
                throw new InvalidOperationException($"An idle receive completed ({task.Status}): {task.Exception?.GetBaseException().Message}");
            }
        }
    }

    public void Dispose()
    {
        if (_started)
        {
            _cancel.Cancel();
            Task all = Task.WhenAll(_pending);
            bool ended = ((IAsyncResult)all).AsyncWaitHandle.WaitOne(CancelTimeout);
            foreach (Socket socket in _sockets)
            {
                socket.Dispose();
            }

            if (!ended)
            {
                throw new TimeoutException($"{_pending.Count(t => !t.IsCompleted)} of {count} idle receives had not ended {CancelTimeout.TotalSeconds:0} s after cancellation.");
            }

            Task? wrong = _pending.FirstOrDefault(t => !t.IsCanceled && t.Exception?.GetBaseException() is not OperationCanceledException);
            if (wrong is not null)
            {
                throw new InvalidOperationException($"An idle receive ended with {wrong.Status} rather than cancellation: {wrong.Exception?.GetBaseException().Message}");
            }

            _started = false;
        }

        _cancel.Dispose();
    }
}

/// <summary>The library: SendFdAsync of a /dev/null handle, ReceiveFdAsync back; the echo side disposes its copy.</summary>
internal sealed class LibraryScalePingPong : IScalePingPong
{
    private readonly SafeFileHandle _file = Descriptor.OpenDevNull();
    private readonly Socket _left;
    private readonly Socket _right;
    private readonly IdleWaiters _idle;

    public LibraryScalePingPong(int idleWaiters)
    {
        (_left, _right) = UnixSocketPair.Create();
        _idle = new IdleWaiters(idleWaiters, static (socket, token) => socket.ReceiveFdAsync(token).AsTask());
        _idle.Start();
    }

    public Task RunAsync(int roundTrips)
    {
        Socket left = _left;
        Socket right = _right;
        SafeFileHandle file = _file;
        Task echo = Task.Run(async () =>
        {
            for (int i = 0; i < roundTrips; i++)
            {
                using SafeFileHandle received = await right.ReceiveFdAsync().ConfigureAwait(false);
                await right.SendFdAsync(received).ConfigureAwait(false);
            }
        });
        Task ping = Task.Run(async () =>
        {
            for (int i = 0; i < roundTrips; i++)
            {
                await left.SendFdAsync(file).ConfigureAwait(false);
                SafeFileHandle back = await left.ReceiveFdAsync().ConfigureAwait(false);
                back.Dispose();
            }
        });
        return Task.WhenAll(ping, echo);
    }

    public void CheckIdle() => _idle.CheckIdle();

    public void Dispose()
    {
        try
        {
            _idle.Dispose();
        }
        finally
        {
            _left.Dispose();
            _right.Dispose();
            _file.Dispose();
        }
    }
}

/// <summary>.NET's own engine: 4 plain bytes with Socket.SendAsync/ReceiveAsync there and back; idle Socket.ReceiveAsync calls.</summary>
internal sealed class SocketScalePingPong : IScalePingPong
{
    private const int MessageLength = 4;

    private readonly byte[] _ping = new byte[MessageLength];
    private readonly byte[] _pong = new byte[MessageLength];
    private readonly byte[] _echo = new byte[MessageLength];
    private readonly Socket _left;
    private readonly Socket _right;
    private readonly IdleWaiters _idle;

    public SocketScalePingPong(int idleWaiters)
    {
        (_left, _right) = UnixSocketPair.Create();
        _idle = new IdleWaiters(idleWaiters, static (socket, token) => socket.ReceiveAsync(new byte[1], SocketFlags.None, token).AsTask());
        _idle.Start();
    }

    public Task RunAsync(int roundTrips)
    {
        Socket left = _left;
        Socket right = _right;
        Task echo = Task.Run(async () =>
        {
            for (int i = 0; i < roundTrips; i++)
            {
                await ReceiveExactlyAsync(right, _echo).ConfigureAwait(false);
                await SendAllAsync(right, _echo).ConfigureAwait(false);
            }
        });
        Task ping = Task.Run(async () =>
        {
            for (int i = 0; i < roundTrips; i++)
            {
                await SendAllAsync(left, _ping).ConfigureAwait(false);
                await ReceiveExactlyAsync(left, _pong).ConfigureAwait(false);
            }
        });
        return Task.WhenAll(ping, echo);
    }

    public void CheckIdle() => _idle.CheckIdle();

    public void Dispose()
    {
        try
        {
            _idle.Dispose();
        }
        finally
        {
            _left.Dispose();
            _right.Dispose();
        }
    }

    private static async ValueTask SendAllAsync(Socket socket, byte[] buffer)
    {
        int sent = 0;
        while (sent < buffer.Length)
        {
            sent += await socket.SendAsync(buffer.AsMemory(sent), SocketFlags.None).ConfigureAwait(false);
        }
    }

    private static async ValueTask ReceiveExactlyAsync(Socket socket, byte[] buffer)
    {
        int received = 0;
        while (received < buffer.Length)
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(received), SocketFlags.None).ConfigureAwait(false);
            if (n == 0)
            {
                throw new IOException("The peer closed the socket mid-ping-pong.");
            }

            received += n;
        }
    }
}

/// <summary>
/// N socket pairs pipelining at once: per pair a task looping SendFdAsync and a task looping ReceiveFdAsync + Dispose.
/// Each sending end's SO_SNDBUF is <see cref="SendBufferSize"/>, which lets about
/// <see cref="InFlightPerPair"/> descriptors be in flight per pair: Linux fails sendmsg with ETOOMANYREFS once a
/// user has more descriptors in flight than RLIMIT_NOFILE, which the default buffer (278 per pair) would pass at
/// about 70 pairs. Every N uses the same buffer, so the ratio between them is the cost of the number of pairs alone.
/// </summary>
internal sealed class LibraryPairsWorkload : IDisposable
{
    /// <summary>Set with SO_SNDBUF (the kernel doubles it to 8192).</summary>
    public const int SendBufferSize = 4096;

    /// <summary>Measured: 11 messages of 4 bytes + 1 descriptor fill an 8192-byte send buffer on Linux 6.x.</summary>
    public const int InFlightPerPair = 11;

    private readonly SafeFileHandle _file = Descriptor.OpenDevNull();
    private readonly List<(Socket Sender, Socket Receiver)> _pairs;

    public LibraryPairsWorkload(int pairs)
    {
        _pairs = new List<(Socket, Socket)>(pairs);
        for (int i = 0; i < pairs; i++)
        {
            (Socket sender, Socket receiver) = UnixSocketPair.Create();
            _pairs.Add((sender, receiver));
            sender.SendBufferSize = SendBufferSize;
        }
    }

    public int Pairs => _pairs.Count;

    /// <summary>Every pair passes <paramref name="perPair"/> descriptors, all pairs at once.</summary>
    public Task RunAsync(int perPair)
    {
        SafeFileHandle file = _file;
        var tasks = new Task[_pairs.Count * 2];
        for (int p = 0; p < _pairs.Count; p++)
        {
            (Socket sender, Socket receiver) = _pairs[p];
            tasks[2 * p] = Task.Run(async () =>
            {
                for (int i = 0; i < perPair; i++)
                {
                    await sender.SendFdAsync(file).ConfigureAwait(false);
                }
            });
            tasks[(2 * p) + 1] = Task.Run(async () =>
            {
                for (int i = 0; i < perPair; i++)
                {
                    SafeFileHandle handle = await receiver.ReceiveFdAsync().ConfigureAwait(false);
                    handle.Dispose();
                }
            });
        }

        return Task.WhenAll(tasks);
    }

    public void Dispose()
    {
        foreach ((Socket sender, Socket receiver) in _pairs)
        {
            sender.Dispose();
            receiver.Dispose();
        }

        _file.Dispose();
    }
}
