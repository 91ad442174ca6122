using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace KestrelUpgrade.Driver;

/// <summary>
/// One HTTP/1.1 connection over a plain socket (TCP or Unix), and nothing more: no pool, no retry. A request whose
/// connection closes before the whole response arrived is a failure, as it is for any client that does not retry
/// (HttpClient would silently send it again on a new connection).
/// </summary>
internal sealed class RawHttpConnection : IDisposable
{
    private readonly Socket _socket;
    private readonly byte[] _buffer = new byte[16 * 1024];
    private int _start;
    private int _end;

    private RawHttpConnection(Socket socket) => _socket = socket;

    /// <summary>Whether the server said <c>Connection: close</c> on the last response (the connection is then done).</summary>
    public bool ClosedByServer { get; private set; }

    public static async Task<RawHttpConnection> ConnectAsync(EndPoint server, CancellationToken cancellationToken)
    {
        var socket = new Socket(server.AddressFamily, SocketType.Stream, server is UnixDomainSocketEndPoint ? ProtocolType.Unspecified : ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(server, cancellationToken);
            return new RawHttpConnection(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Writes a request and returns nothing: for a test that wants to hold a request back, or send it late.</summary>
    public async Task SendRequestAsync(string path, bool close, CancellationToken cancellationToken)
    {
        string request = $"GET {path} HTTP/1.1\r\nHost: localhost\r\n{(close ? "Connection: close\r\n" : "")}\r\n";
        await _socket.SendAsync(Encoding.ASCII.GetBytes(request), SocketFlags.None, cancellationToken);
    }

    /// <summary>Reads one whole response (Content-Length or chunked body).</summary>
    /// <exception cref="IOException">The server closed the connection before the whole response arrived.</exception>
    public async Task<RawHttpResponse> ReadResponseAsync(CancellationToken cancellationToken)
    {
        string head = Encoding.ASCII.GetString(await ReadHeadAsync(cancellationToken));
        string[] lines = head.Split("\r\n");
        string[] status = lines[0].Split(' ', 3);
        if (status.Length < 2 || !status[0].StartsWith("HTTP/1.", StringComparison.Ordinal) || !int.TryParse(status[1], CultureInfo.InvariantCulture, out int code))
        {
            throw new IOException($"Not an HTTP/1.x status line: '{lines[0]}'.");
        }

        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (string line in lines.Skip(1))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
            }
        }

        byte[] body = headers.TryGetValue("Transfer-Encoding", out string? encoding) && encoding.Contains("chunked", StringComparison.OrdinalIgnoreCase)
            ? await ReadChunkedAsync(cancellationToken)
            : await ReadExactlyAsync(headers.TryGetValue("Content-Length", out string? length) ? int.Parse(length, CultureInfo.InvariantCulture) : 0, cancellationToken);
        bool close = headers.TryGetValue("Connection", out string? connection) && connection.Contains("close", StringComparison.OrdinalIgnoreCase);
        ClosedByServer = close;
        return new RawHttpResponse(code, Encoding.UTF8.GetString(body), close);
    }

    public async Task<RawHttpResponse> GetAsync(string path, bool close, CancellationToken cancellationToken)
    {
        await SendRequestAsync(path, close, cancellationToken);
        return await ReadResponseAsync(cancellationToken);
    }

    /// <summary>Waits until the server closes the connection (end of stream), returning false if bytes arrive instead.</summary>
    public async Task<bool> WaitForServerCloseAsync(CancellationToken cancellationToken)
    {
        return _end == _start && await _socket.ReceiveAsync(new byte[1], SocketFlags.None, cancellationToken) == 0;
    }

    public void Dispose() => _socket.Dispose();

    private async Task<byte[]> ReadHeadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            int end = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                byte[] head = _buffer[_start..(_start + end)];
                _start += end + 4;
                return head;
            }

            if (!await FillAsync(cancellationToken))
            {
                throw new IOException(_end == _start
                    ? "the server closed the connection without a response"
                    : "the server closed the connection in the middle of the response headers");
            }
        }
    }

    private async Task<byte[]> ReadChunkedAsync(CancellationToken cancellationToken)
    {
        var body = new List<byte>();
        while (true)
        {
            string sizeLine = Encoding.ASCII.GetString(await ReadLineAsync(cancellationToken));
            int size = int.Parse(sizeLine.Split(';')[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if (size == 0)
            {
                // Trailers (none expected) end with an empty line.
                while ((await ReadLineAsync(cancellationToken)).Length > 0)
                {
                }

                return [.. body];
            }

            body.AddRange(await ReadExactlyAsync(size, cancellationToken));
            await ReadLineAsync(cancellationToken);
        }
    }

    private async Task<byte[]> ReadLineAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            int end = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n"u8);
            if (end >= 0)
            {
                byte[] line = _buffer[_start..(_start + end)];
                _start += end + 2;
                return line;
            }

            if (!await FillAsync(cancellationToken))
            {
                throw new IOException("the server closed the connection in the middle of the response body");
            }
        }
    }

    private async Task<byte[]> ReadExactlyAsync(int count, CancellationToken cancellationToken)
    {
        while (_end - _start < count)
        {
            if (!await FillAsync(cancellationToken))
            {
                throw new IOException("the server closed the connection in the middle of the response body");
            }
        }

        byte[] bytes = _buffer[_start..(_start + count)];
        _start += count;
        return bytes;
    }

    /// <summary>Reads more bytes into the buffer; false at end of stream.</summary>
    private async Task<bool> FillAsync(CancellationToken cancellationToken)
    {
        if (_start > 0)
        {
            Array.Copy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            throw new IOException("The response does not fit the client's buffer.");
        }

        int read = await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancellationToken);
        _end += read;
        return read > 0;
    }
}

/// <summary>A response as the raw client saw it.</summary>
internal sealed record RawHttpResponse(int StatusCode, string Body, bool ConnectionClose);
