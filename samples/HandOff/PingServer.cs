using System.Net.Sockets;
using System.Text;

namespace HandOff;

/// <summary>Accepts on a listening socket and answers each connection's "ping" with "pong PID".</summary>
internal sealed class PingServer(Socket listener)
{
    private readonly CancellationTokenSource _stopAccepting = new();
    private readonly List<Task> _connections = [];
    private Task _acceptLoop = Task.CompletedTask;

    public int Served { get; private set; }

    public void Start() => _acceptLoop = AcceptLoopAsync();

    /// <summary>Stops accepting (the listener stays open for whoever else holds it) and waits for open connections.</summary>
    public async Task StopAcceptingAndDrainAsync()
    {
        await _stopAccepting.CancelAsync();
        await _acceptLoop;
        Task[] open;
        lock (_connections)
        {
            open = [.. _connections];
        }

        await Task.WhenAll(open);
    }

    private async Task AcceptLoopAsync()
    {
        while (true)
        {
            Socket connection;
            try
            {
                connection = await listener.AcceptAsync(_stopAccepting.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            lock (_connections)
            {
                _connections.Add(ServeAsync(connection));
            }
        }
    }

    private async Task ServeAsync(Socket connection)
    {
        using (connection)
        {
            var buffer = new byte[16];
            int read = await connection.ReceiveAsync(buffer);
            if (read > 0)
            {
                await connection.SendAsync(Encoding.ASCII.GetBytes($"pong {Environment.ProcessId}\n"));
                lock (_connections)
                {
                    Served++;
                }
            }
        }
    }
}
