using System.Net;
using System.Net.Sockets;
using System.Text;

namespace HandOff;

/// <summary>Keeps connecting to the server and counts the answers by the process that gave them.</summary>
internal sealed class LoadClient(IPEndPoint server, int concurrency = 4)
{
    private readonly Dictionary<int, int> _servedBy = [];
    private readonly CancellationTokenSource _stop = new();
    private Task _running = Task.CompletedTask;

    public int Failed { get; private set; }

    public IReadOnlyDictionary<int, int> ServedBy
    {
        get
        {
            lock (_servedBy)
            {
                return new Dictionary<int, int>(_servedBy);
            }
        }
    }

    public void Start() => _running = Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(RunAsync)));

    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await _running;
    }

    private async Task RunAsync()
    {
        var buffer = new byte[64];
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                using var socket = new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(server);
                await socket.SendAsync("ping\n"u8.ToArray());
                int read = 0;
                while (read < buffer.Length && (read == 0 || buffer[read - 1] != '\n'))
                {
                    int n = await socket.ReceiveAsync(buffer.AsMemory(read));
                    if (n == 0)
                    {
                        break;
                    }

                    read += n;
                }

                string reply = Encoding.ASCII.GetString(buffer, 0, read);
                if (!reply.StartsWith("pong ", StringComparison.Ordinal) || !int.TryParse(reply.AsSpan(5).Trim(), out int pid))
                {
                    throw new IOException($"Unexpected reply '{reply.Trim()}'.");
                }

                lock (_servedBy)
                {
                    _servedBy[pid] = _servedBy.GetValueOrDefault(pid) + 1;
                }
            }
            catch (Exception e) when (e is SocketException or IOException)
            {
                lock (_servedBy)
                {
                    Failed++;
                }

                Console.Error.WriteLine($"  request failed: {e.Message}");
            }
        }
    }
}
