using System.Net.Sockets;
using System.Runtime.Versioning;

namespace AsyncSendFd.Benchmarks.Chaos;

/// <summary>What runs over a lane's socket pair.</summary>
internal enum LaneKind
{
    /// <summary>Stream: <c>SendFd</c>/<c>SendSocket</c> to <c>ReceiveFd</c>/<c>ReceiveSocket</c>, several receivers at once.</summary>
    StreamSingles,

    /// <summary>Stream: <c>SendFds</c> of encoded messages from several senders, one receiver reassembling the byte stream.</summary>
    StreamBatches,

    /// <summary>Stream: <c>FdMessageChannel</c> at both ends, several senders and receivers.</summary>
    StreamFrames,

    /// <summary>A connected datagram pair: every send and receive shape.</summary>
    Datagram,

    /// <summary>A seqpacket pair: every send and receive shape (no empty messages: they read as end of stream).</summary>
    Seqpacket,

    /// <summary>An unconnected datagram socket sending with <c>SendFdsTo</c> to a receiver bound to an abstract name.</summary>
    DatagramTo,
}

/// <summary>
/// One socket of a lane (or a second <see cref="Socket"/> over a receiver's descriptor), with the moment it was disposed:
/// every call on it must end within a second of that.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class Endpoint(Lane lane, string role, Socket socket)
{
    private long _disposedAt;
    private int _disposing;
    private int _sendsEnded;
    private int _receivesEnded;

    public Lane Lane { get; } = lane;

    public string Role { get; } = role;

    public Socket Socket { get; } = socket;

    public FdMessageChannel? Channel { get; init; }

    /// <summary>Environment.TickCount64 when Dispose was called; 0 while alive.</summary>
    public long DisposedAt => Volatile.Read(ref _disposedAt);

    public bool IsDisposed => DisposedAt != 0;

    /// <summary>How many sends or receives on this socket have ended: a call that sees many end while it waits waited in line.</summary>
    public int CallsEnded(bool receives) => Volatile.Read(ref receives ? ref _receivesEnded : ref _sendsEnded);

    public void CountCallEnded(bool receive) => Interlocked.Increment(ref receive ? ref _receivesEnded : ref _sendsEnded);

    /// <summary>Claims the disposal; false if someone already did.</summary>
    public bool TryClaimDisposal() => Interlocked.Exchange(ref _disposing, 1) == 0;

    /// <summary>Disposes the socket now, on this thread, stamping the time first (the caller times the call).</summary>
    public void DisposeNow()
    {
        Volatile.Write(ref _disposedAt, Environment.TickCount64);
        Socket.Dispose();
    }

    public override string ToString() => $"{Lane} {Role}";
}

/// <summary>
/// A socket pair carrying messages one way (sender to receiver), with its configuration and what happened to it: the
/// refusals and disposals that excuse a message that never arrived.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class Lane
{
    private readonly Lock _twinGate = new();
    private bool _receiverClosing;
    private int _refusals;
    private int _emptyAttempted;
    private int _emptySucceeded;
    private int _emptyReceived;
    private int _sent;
    private int _received;
    private long _stalledUntil;
    private long _pausedUntil;
    private long _lastReceiveAt = Environment.TickCount64;

    private Lane(int id, LaneKind kind, Socket sender, Socket receiver, UnixDomainSocketEndPoint? address)
    {
        Id = id;
        Kind = kind;
        Address = address;
        bool framed = kind == LaneKind.StreamFrames;
        Sender = new Endpoint(this, "sender", sender) { Channel = framed ? new FdMessageChannel(sender) : null };
        Receiver = new Endpoint(this, "receiver", receiver) { Channel = framed ? new FdMessageChannel(receiver) : null };
        Reassembler = kind == LaneKind.StreamBatches ? new StreamReassembler(this) : null;
    }

    public int Id { get; }

    public LaneKind Kind { get; }

    /// <summary>The lane's last events, for reports.</summary>
    public LaneLog Log { get; } = new();

    public Endpoint Sender { get; }

    public Endpoint Receiver { get; }

    /// <summary>The receiver's address, for <see cref="LaneKind.DatagramTo"/>.</summary>
    public UnixDomainSocketEndPoint? Address { get; }

    public StreamReassembler? Reassembler { get; }

    /// <summary>Singles lanes: only sockets are sent, so receivers may use <c>ReceiveSocket</c>.</summary>
    public bool SocketsOnly { get; private init; }

    /// <summary>Message lanes: receivers sometimes use a shape that refuses some messages (documented <c>IOException</c>s).</summary>
    public bool MixedShapes { get; private init; }

    /// <summary>The timeouts set on the sockets (0: none): blocking calls must honour them.</summary>
    public int SendTimeout { get; private init; }

    public int ReceiveTimeout { get; private init; }

    public bool HasEndOfStream => Kind is not (LaneKind.Datagram or LaneKind.DatagramTo);

    /// <summary>The chaos disposed the receiving socket (or its channel faulted) before the final drain: what was unread is gone.</summary>
    public bool ReceiverGoneEarly { get; set; }

    /// <summary>A stream send failed after maybe writing part of its message: the stream may end inside it.</summary>
    public bool SendMaybePartial { get; set; }

    /// <summary>A stream send failed midway with its socket still open (ENOBUFS): bytes after it may be out of step.</summary>
    public bool StreamMayBeCorrupt { get; set; }

    public Endpoint? Twin { get; private set; }

    /// <summary>A second Socket received on the lane's descriptor at some point (the README asks for one at a time).</summary>
    public bool HadTwin => Twin is not null;

    public int Refusals => Volatile.Read(ref _refusals);

    public int EmptyAttempted => Volatile.Read(ref _emptyAttempted);

    public int EmptySucceeded => Volatile.Read(ref _emptySucceeded);

    public int EmptyReceived => Volatile.Read(ref _emptyReceived);

    public long LastReceiveAt => Volatile.Read(ref _lastReceiveAt);

    public bool SendersStalled => Environment.TickCount64 < Volatile.Read(ref _stalledUntil);

    public bool ReceiversPaused => Environment.TickCount64 < Volatile.Read(ref _pausedUntil);

    public bool IsLive => !Sender.IsDisposed && !Receiver.IsDisposed;

    public static Lane Create(int id, LaneKind kind, Random rng, bool timeouts)
    {
        (Socket sender, Socket receiver, UnixDomainSocketEndPoint? address) = kind switch
        {
            LaneKind.Datagram => Pair(SocketType.Dgram),
            LaneKind.Seqpacket => Pair(SocketType.Seqpacket),
            LaneKind.DatagramTo => BoundDatagram(id),
            _ => Pair(SocketType.Stream),
        };

        timeouts &= rng.NextDouble() < 0.4;
        var lane = new Lane(id, kind, sender, receiver, address)
        {
            SocketsOnly = kind == LaneKind.StreamSingles && rng.NextDouble() < 0.3,
            MixedShapes = kind is LaneKind.Datagram or LaneKind.Seqpacket && rng.NextDouble() < 0.3,
            SendTimeout = timeouts ? rng.Next(150, 600) : 0,
            ReceiveTimeout = timeouts ? rng.Next(150, 600) : 0,
        };

        if (rng.NextDouble() < 0.5)
        {
            // Small buffers: sends stall often, and handles are disposed while they wait.
            sender.SendBufferSize = 4096;
            receiver.ReceiveBufferSize = 4096;
        }

        sender.SendTimeout = lane.SendTimeout;
        receiver.ReceiveTimeout = lane.ReceiveTimeout;
        return lane;

        static (Socket, Socket, UnixDomainSocketEndPoint?) Pair(SocketType type)
        {
            (Socket left, Socket right) = UnixSocketPair.Create(type);
            return (left, right, null);
        }
    }

    private static (Socket, Socket, UnixDomainSocketEndPoint?) BoundDatagram(int id)
    {
        var address = new UnixDomainSocketEndPoint($"\0asyncsendfd-chaos-{Environment.ProcessId}-{id}");
        var receiver = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        try
        {
            receiver.Bind(address);
            return (new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified), receiver, address);
        }
        catch
        {
            receiver.Dispose();
            throw;
        }
    }

    public void AddRefusal() => Interlocked.Increment(ref _refusals);

    public void CountEmpty(bool succeeded)
    {
        Interlocked.Increment(ref _emptyAttempted);
        if (succeeded)
        {
            Interlocked.Increment(ref _emptySucceeded);
        }
    }

    public void CountEmptyReceived() => Interlocked.Increment(ref _emptyReceived);

    public void CountSent() => Interlocked.Increment(ref _sent);

    public void CountReceived() => Interlocked.Increment(ref _received);

    /// <summary>As many messages received whole as sends succeeded (a hint for the drain, which also stops when nothing comes).</summary>
    public bool AllReceived => Volatile.Read(ref _received) >= Volatile.Read(ref _sent) && EmptyReceived >= EmptySucceeded;

    public void NoteReceive() => Volatile.Write(ref _lastReceiveAt, Environment.TickCount64);

    public void StallSenders(int milliseconds) => Volatile.Write(ref _stalledUntil, Environment.TickCount64 + milliseconds);

    public void PauseReceivers(int milliseconds) => Volatile.Write(ref _pausedUntil, Environment.TickCount64 + milliseconds);

    /// <summary>A second <see cref="Socket"/> over the receiver's descriptor (ownsHandle: false); null if the lane has one or is closing.</summary>
    public Endpoint? AddTwin()
    {
        lock (_twinGate)
        {
            if (Twin is not null || _receiverClosing)
            {
                return null;
            }

            var twin = new Socket(new SafeSocketHandle(Receiver.Socket.SafeHandle.DangerousGetHandle(), ownsHandle: false));
            twin.ReceiveTimeout = ReceiveTimeout;
            Twin = new Endpoint(this, "twin", twin);
            return Twin;
        }
    }

    /// <summary>
    /// Marks the receiver as closing, so no twin is added any more, and returns the twin there is: it must be disposed,
    /// and its calls ended, before the receiver's descriptor number is closed and can be reused.
    /// </summary>
    public Endpoint? BeginReceiverClose()
    {
        lock (_twinGate)
        {
            _receiverClosing = true;
            return Twin;
        }
    }

    public override string ToString() => $"lane {Id} ({Kind})";
}
