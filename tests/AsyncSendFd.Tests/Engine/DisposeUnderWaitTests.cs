using System.Net.Sockets;
using System.Runtime.InteropServices;
using AsyncSendFd.Native.Interop.Unix;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;
using Linux = AsyncSendFd.Native.Interop.Linux;

namespace AsyncSendFd.Tests.Engine;

/// <summary>
/// Disposing a socket under a waiting call returns at once and ends the call with ObjectDisposedException within a
/// second, however the socket was made. .NET shuts a socket down on Dispose only when it is close-on-exec, and then
/// waits for every reference on its handle: a library that held one across the wait hung Dispose for ever on an
/// inherited socket (the usual way a worker gets its channel) and on one wrapped with ownsHandle: false.
/// </summary>
public sealed class DisposeUnderWaitTests
{
    private static readonly TimeSpan Promptly = TimeSpan.FromSeconds(1);

    public enum SocketKind
    {
        /// <summary>UnixSocketPair.Create: close-on-exec, owned.</summary>
        CloseOnExec,

        /// <summary>socketpair without SOCK_CLOEXEC wrapped by new SafeSocketHandle(fd, true): what a child inherits.</summary>
        Inherited,

        /// <summary>Someone else's descriptor wrapped with ownsHandle: false.</summary>
        NotOwned,
    }

    public enum Call
    {
        ReceiveFdAsync,
        SendFdAsync,
        ReceiveFd,
        SendFds,
    }

    public static TheoryData<SocketKind, Call> Cases()
    {
        var cases = new TheoryData<SocketKind, Call>();
        foreach (SocketKind kind in Enum.GetValues<SocketKind>())
        {
            foreach (Call call in Enum.GetValues<Call>())
            {
                cases.Add(kind, call);
            }
        }

        return cases;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Dispose_UnderAWaitingCall_ReturnsAtOnceAndTheCallThrowsObjectDisposed(SocketKind kind, Call call)
    {
        using Endpoints endpoints = Endpoints.Create(kind);
        using SafeFileHandle file = Descriptors.TempFile();
        Socket waiting = endpoints.Waiting;
        if (call is Call.SendFdAsync or Call.SendFds)
        {
            SocketFill.FillSendBuffer(waiting, 0xAA);
        }

        Task pending = call switch
        {
            Call.ReceiveFdAsync => waiting.ReceiveFdAsync().AsTask(),
            Call.SendFdAsync => waiting.SendFdAsync(file).AsTask(),
            Call.ReceiveFd => Task.Factory.StartNew(() => waiting.ReceiveFd().Dispose(), TaskCreationOptions.LongRunning),
            _ => Task.Factory.StartNew(() => waiting.SendFds([1], [file]), TaskCreationOptions.LongRunning),
        };
        await Task.Delay(100);
        Assert.False(pending.IsCompleted, $"the {call} did not wait");

        Task dispose = Task.Run(waiting.Dispose);
        Assert.Same(dispose, await Task.WhenAny(dispose, Task.Delay(Promptly)));
        Task ended = await Task.WhenAny(pending, Task.Delay(Promptly));

        Assert.Same(pending, ended);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => pending);
        Assert.False(file.IsClosed);
    }

    [Theory]
    [InlineData(SocketType.Dgram)]
    [InlineData(SocketType.Seqpacket)]
    public async Task Dispose_UnderAWaitingReceiveOnAMessageSocket_ReturnsAtOnceAndTheReceiveThrowsObjectDisposed(SocketType type)
    {
        // .NET shuts down only stream sockets on Dispose; a datagram socket's waiting receive got no wake-up at all.
        (Socket waiting, Socket peer) = UnixSocketPair.Create(type);
        using (peer)
        {
            Task<SafeFileHandle> pending = waiting.ReceiveFdAsync().AsTask();
            await Task.Delay(100);

            Task dispose = Task.Run(waiting.Dispose);
            Assert.Same(dispose, await Task.WhenAny(dispose, Task.Delay(Promptly)));
            Assert.Same(pending, await Task.WhenAny(pending, Task.Delay(Promptly)));
            await Assert.ThrowsAsync<ObjectDisposedException>(() => pending);
        }
    }

    [Fact]
    public async Task Dispose_OfANotOwnedWrapper_LeavesTheDescriptorUsableByANewWrapper()
    {
        using Endpoints endpoints = Endpoints.Create(SocketKind.NotOwned);
        Task<SafeFileHandle> pending = endpoints.Waiting.ReceiveFdAsync().AsTask();
        await Task.Delay(50);
        endpoints.Waiting.Dispose();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => pending.WaitAsync(TimeSpan.FromSeconds(5)));

        // The descriptor is still open and still registered with the engine under the old wrapper's token.
        using var again = new Socket(new SafeSocketHandle(endpoints.RawWaiting, ownsHandle: false));
        Task<SafeFileHandle> received = again.ReceiveFdAsync().AsTask();
        using SafeFileHandle file = Descriptors.TempFile();
        await endpoints.Peer.SendFdAsync(file);

        using SafeFileHandle handle = await received.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(Descriptors.Target(file), Descriptors.Target(handle));
    }

    /// <summary>A connected pair: the end that waits, in the kind under test, and its peer.</summary>
    private sealed unsafe class Endpoints : IDisposable
    {
        private Endpoints(Socket waiting, Socket peer, int rawWaiting)
        {
            Waiting = waiting;
            Peer = peer;
            RawWaiting = rawWaiting;
        }

        public Socket Waiting { get; }

        public Socket Peer { get; }

        /// <summary>The waiting end's descriptor when the test owns it (NotOwned), else -1.</summary>
        public int RawWaiting { get; }

        public static Endpoints Create(SocketKind kind)
        {
            if (kind == SocketKind.CloseOnExec)
            {
                (Socket left, Socket right) = UnixSocketPair.Create();
                return new Endpoints(left, right, -1);
            }

            int* fds = stackalloc int[2];
            Assert.Equal(0, LibC.socketpair(Linux.LibC.AF_UNIX, Linux.LibC.SOCK_STREAM, 0, fds));
            Assert.Equal(0, LibC.fcntl(fds[0], Linux.LibC.F_GETFD, 0) & Linux.LibC.FD_CLOEXEC);
            var peer = new Socket(new SafeSocketHandle(fds[1], ownsHandle: true));
            return kind == SocketKind.Inherited
                ? new Endpoints(new Socket(new SafeSocketHandle(fds[0], ownsHandle: true)), peer, -1)
                : new Endpoints(new Socket(new SafeSocketHandle(fds[0], ownsHandle: false)), peer, fds[0]);
        }

        public void Dispose()
        {
            Waiting.Dispose();
            Peer.Dispose();
            if (RawWaiting >= 0)
            {
                _ = LibC.close(RawWaiting);
            }
        }
    }
}
