using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace AsyncSendFd.Hosting.AspNetCore.Internal;

/// <summary>
/// Every connection this generation's listeners accepted, and the drain once a successor has taken over: stop
/// accepting, tell HTTP/2 connections to go away, and wait for the connections to close within the window.
/// </summary>
internal sealed class ConnectionDrain(ILogger logger)
{
    private readonly ConcurrentDictionary<DrainingConnection, byte> _open = new();
    private readonly List<UpgradableListener> _listeners = [];
    private readonly TaskCompletionSource _allClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _draining;

    public bool IsDraining => Volatile.Read(ref _draining) != 0;

    /// <summary>Whether the host began to stop while this generation was the serving one (so its listeners are its own to close).</summary>
    public bool StoppingWhileServing { get; set; }

    public int OpenConnections => _open.Count;

    public void Add(UpgradableListener listener)
    {
        lock (_listeners)
        {
            _listeners.Add(listener);
        }
    }

    public void Remove(UpgradableListener listener)
    {
        lock (_listeners)
        {
            _listeners.Remove(listener);
        }
    }

    /// <summary>Follows a connection a listener accepted until it closes.</summary>
    public void Track(ConnectionContext connection)
    {
        var tracked = new DrainingConnection(connection, this);
        connection.Features.Set(tracked);
        _open.TryAdd(tracked, 0);
        connection.ConnectionClosed.Register(static state => ((DrainingConnection)state!).OnClosed(), tracked);
    }

    public void OnClosed(DrainingConnection connection)
    {
        _open.TryRemove(connection, out _);
        if (IsDraining && _open.IsEmpty)
        {
            _allClosed.TrySetResult();
        }
    }

    /// <summary>Stops accepting on every listener (the successor accepts from the same sockets) and sends HTTP/2 GOAWAY; once.</summary>
    public void BeginDrain()
    {
        if (Interlocked.Exchange(ref _draining, 1) != 0)
        {
            return;
        }

        UpgradableListener[] listeners;
        lock (_listeners)
        {
            listeners = [.. _listeners];
        }

        foreach (UpgradableListener listener in listeners)
        {
            listener.StopAccepting();
        }

        int goAway = 0;
        foreach (DrainingConnection connection in _open.Keys)
        {
            if (connection.IsHttp2)
            {
                connection.RequestClose();
                goAway++;
            }
        }

        Log.Draining(logger, listeners.Length, _open.Count, goAway);
        if (_open.IsEmpty)
        {
            _allClosed.TrySetResult();
        }
    }

    /// <summary>Waits until every connection has closed, or the window is over, or the shutdown timeout cuts it short.</summary>
    public async Task WaitAsync(TimeSpan window, CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        Task over = Task.Delay(window, cancellationToken);
        if (await Task.WhenAny(_allClosed.Task, over).ConfigureAwait(false) == _allClosed.Task)
        {
            Log.Drained(logger, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        else if (cancellationToken.IsCancellationRequested)
        {
            Log.DrainCutShort(logger, _open.Count);
        }
        else
        {
            Log.DrainWindowOver(logger, window, _open.Count);
        }
    }
}
