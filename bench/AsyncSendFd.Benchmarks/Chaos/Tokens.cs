using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace AsyncSendFd.Benchmarks.Chaos;

/// <summary>
/// One descriptor sent: a memfd (named after its id) or one end of a socket pair (its peer kept for a probe). A received
/// copy is recognised by what /proc/self/fd says it points at ("/memfd:chaos-3-17 (deleted)", "socket:[81234]"), which
/// the copy shares with the original, so a descriptor cannot pass for another.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class Token
{
    private int _received;

    private Token(long id, string identity, SafeHandle handle, Socket? socket, Socket? peer)
    {
        Id = id;
        Identity = identity;
        Handle = handle;
        Socket = socket;
        Peer = peer;
    }

    public long Id { get; }

    public string Identity { get; }

    /// <summary>What is sent: the memfd, or the socket's own handle.</summary>
    public SafeHandle Handle { get; }

    /// <summary>For a socket token, the end that is sent.</summary>
    public Socket? Socket { get; }

    /// <summary>For a socket token, the other end, kept to check that the copy received still works.</summary>
    public Socket? Peer { get; }

    public Message? Message { get; set; }

    /// <summary>Disposed by the chaos while its send may still run.</summary>
    public bool DisposedMidSend { get; set; }

    public int Received => Volatile.Read(ref _received);

    /// <returns>How many times it has been received, this one included.</returns>
    public int MarkReceived() => Interlocked.Increment(ref _received);

    /// <summary>Disposes the sender's copy (the caller keeps ownership of what it sends).</summary>
    public void DisposeSenderCopy()
    {
        if (Socket is not null)
        {
            Socket.Dispose();
        }
        else
        {
            Handle.Dispose();
        }
    }

    public static Token? CreateMemfd(long id, int round)
    {
        Microsoft.Win32.SafeHandles.SafeFileHandle? memfd = ChaosLibC.CreateMemfd($"chaos-{round}-{id}");
        if (memfd is null)
        {
            return null;
        }

        string? identity = IdentityOf(memfd);
        if (identity is null)
        {
            memfd.Dispose();
            throw new IOException("A memfd just created is not in /proc/self/fd.");
        }

        return new Token(id, identity, memfd, null, null);
    }

    public static Token? CreateSocket(long id)
    {
        Socket sent;
        Socket peer;
        try
        {
            (sent, peer) = UnixSocketPair.Create(SocketType.Stream);
        }
        catch (SocketException)
        {
            return null; // out of descriptors: a squeeze is on
        }

        string? identity = IdentityOf(sent.SafeHandle);
        if (identity is null)
        {
            sent.Dispose();
            peer.Dispose();
            throw new IOException("A socket just created is not in /proc/self/fd.");
        }

        peer.ReceiveTimeout = 2000;
        return new Token(id, identity, sent.SafeHandle, sent, peer);
    }

    /// <summary>What the descriptor points at, or null if it is not open.</summary>
    public static string? IdentityOf(SafeHandle handle)
    {
        try
        {
            return new FileInfo($"/proc/self/fd/{handle.DangerousGetHandle()}").LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
    }

    public override string ToString() => Socket is null ? $"memfd {Id}" : $"socket {Id}";
}

/// <summary>The round's tokens by identity, so that every descriptor received is traced to the one send that carried it.</summary>
[SupportedOSPlatform("linux")]
internal sealed class TokenRegistry(int round)
{
    private readonly ConcurrentDictionary<string, Token> _byIdentity = new();
    private long _nextId;

    /// <returns>A new token, or null when the process is out of descriptors.</returns>
    public Token? Create(bool socket)
    {
        long id = Interlocked.Increment(ref _nextId);
        Token? token = socket ? Token.CreateSocket(id) : Token.CreateMemfd(id, round);
        if (token is not null && !_byIdentity.TryAdd(token.Identity, token))
        {
            throw new InvalidOperationException($"Two live tokens point at {token.Identity}.");
        }

        return token;
    }

    /// <summary>The token a received descriptor is a copy of, or null (with what it points at) if none is.</summary>
    public Token? Identify(SafeHandle received, out string identity)
    {
        identity = Token.IdentityOf(received) ?? "(not open)";
        return _byIdentity.TryGetValue(identity, out Token? token) ? token : null;
    }

    /// <summary>Closes every sender copy and probe peer left.</summary>
    public void DisposeAll()
    {
        foreach (Token token in _byIdentity.Values)
        {
            token.DisposeSenderCopy();
            token.Peer?.Dispose();
        }
    }
}
