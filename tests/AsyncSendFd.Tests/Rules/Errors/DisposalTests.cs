using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using AsyncSendFd.Native.Interop.Unix;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;
using Xunit.Abstractions;
using static AsyncSendFd.Tests.Support.Timeouts;

namespace AsyncSendFd.Tests.Rules.Errors;

/// <summary>
/// README rule "Errors", disposal: disposing a socket under a waiting call (one or several, receive or send, async or
/// blocking, stalled or partly written) returns at once and ends each call with ObjectDisposedException within a
/// second, however the socket was made. .NET shuts a socket down on Dispose only when it is close-on-exec, and then
/// waits for every reference on its handle: a library that held one across the wait hung Dispose for ever on an
/// inherited socket (the usual way a worker gets its channel) and on one wrapped with ownsHandle: false.
/// </summary>
public sealed class DisposalTests(ITestOutputHelper output)
{
    private const byte Filler = 0xAA;

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

        Task dispose = Task.Factory.StartNew(waiting.Dispose, TaskCreationOptions.LongRunning); // not behind other tests' work on the pool
        Assert.Same(dispose, await Task.WhenAny(dispose, Task.Delay(Promptly)));
        Task ended = await Task.WhenAny(pending, Task.Delay(Promptly));

        Assert.Same(pending, ended);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => pending);
        Assert.False(file.IsClosed);
    }

    [Theory]
    [InlineData(SocketType.Dgram)]
    [LinuxInlineData(SocketType.Seqpacket)]
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

        // The descriptor is still open and still registered with the kernel, which the old wrapper's wait armed.
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
            Assert.Equal(0, LibC.socketpair(TestLibC.AF_UNIX, TestLibC.SOCK_STREAM, 0, fds));
            Assert.Equal(0, LibC.fcntl(fds[0], TestLibC.F_GETFD, 0) & TestLibC.FD_CLOEXEC);
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

    [SupportedOSPlatform("linux")] // an abstract address: .NET unlinks a path when the socket that bound it is disposed
    [LinuxFact]
    public async Task DisposingASocketBeingSent_WhileTheSendWaits_ReturnsAtOnce_LeavesTheOtherHolderListening_AndTheSendThrows()
    {
        var address = new UnixDomainSocketEndPoint($"\0asf-{Guid.NewGuid():N}");
        using var carrier = SocketPair.Create();
        using var handOff = SocketPair.Create();
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(address);
        listener.Listen();
        handOff.Left.SendSocket(listener);
        using Socket otherHolder = handOff.Right.ReceiveSocket(); // the state after a hand-over: two holders
        int filler = SocketFill.FillSendBuffer(carrier.Left, Filler);
        Task send = carrier.Left.SendSocketAsync(listener).AsTask();
        await Task.Delay(100);
        Assert.False(send.IsCompleted);

        Task disposing = Task.Run(listener.Dispose);
        Assert.Same(disposing, await Task.WhenAny(disposing, Task.Delay(Promptly))); // Dispose returned at once
        SocketFill.DrainFiller(carrier.Right, filler, Filler);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => send.WaitAsync(Guard));

        using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await client.ConnectAsync(address).WaitAsync(Guard);
        using Socket accepted = await otherHolder.AcceptAsync().WaitAsync(Guard);
        Assert.True(accepted.Connected);
    }

    [SupportedOSPlatform("linux")] // seqpacket
    [LinuxFact]
    public async Task DisposingTheSocket_WhileReceiveFdsAsyncAndReceiveSocketAsyncWait_EndsBoth()
    {
        using var pair = SocketPair.Create(SocketType.Seqpacket);
        Task<FdReceiveResult> fds = pair.Right.ReceiveFdsAsync(new byte[16], new SafeFileHandle?[4]).AsTask();
        Task<Socket> socket = pair.Right.ReceiveSocketAsync().AsTask(); // queued behind the first
        Assert.False(fds.IsCompleted);

        await DisposeAndAssertEnded(pair.Right, fds, socket);
    }

    [Fact]
    public async Task DisposingTheSocket_WhileAStalledSendFdAsyncWaits_EndsTheSend()
    {
        using var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile();
        SocketFill.FillSendBuffer(pair.Left, Filler);
        Task pending = pair.Left.SendFdAsync(file).AsTask();
        Task queued = pair.Left.SendFdsAsync(new byte[10], new SafeHandle[] { file }).AsTask();
        Assert.False(pending.IsCompleted);

        await DisposeAndAssertEnded(pair.Left, pending, queued);
        Assert.False(file.IsClosed);
    }

    [Fact]
    public async Task DisposingTheSocket_WhileAPartlyWrittenSendFdsAsyncWaits_EndsTheSend()
    {
        using var pair = SocketPair.Create();
        pair.Left.SendBufferSize = 4096;
        using SafeFileHandle file = Descriptors.TempFile();
        Task pending = pair.Left.SendFdsAsync(new byte[256 * 1024], new SafeHandle[] { file }).AsTask();
        Assert.False(pending.IsCompleted);

        await DisposeAndAssertEnded(pair.Left, pending);
    }

    /// <summary>Dispose returns at once, and every waiting call ends at once with ObjectDisposedException.</summary>
    private async Task DisposeAndAssertEnded(Socket socket, params Task[] pending)
    {
        Task dispose = Task.Run(socket.Dispose);
        Assert.Same(dispose, await Task.WhenAny(dispose, Task.Delay(Promptly)));
        foreach (Task task in pending)
        {
            Assert.Same(task, await Task.WhenAny(task, Task.Delay(Promptly)));
            Exception? e = await Record.ExceptionAsync(() => task);
            output.WriteLine($"observed: {e?.GetType().FullName ?? "no exception"}: {e?.Message}");
            Assert.IsType<ObjectDisposedException>(e);
        }
    }
}

/// <summary>Disposal under a receive and a stalled send on the same socket, counted: both end and nothing stays open.</summary>
[Collection(DescriptorsCollection.Name)]
public class DisposalDescriptorCountTests(ITestOutputHelper output)
{
    [Fact]
    public async Task DisposingTheSocketWhileAReceiveAndAStalledSendWait_BothCompleteWithinSeconds()
    {
        var baseline = DescriptorSnapshot.Take();
        var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile();

        Task<SafeFileHandle> receive = pair.Left.ReceiveFdAsync().AsTask();
        Task stalled = Task.CompletedTask;
        for (int i = 0; i < 100_000 && stalled.IsCompleted; i++)
        {
            stalled = pair.Left.SendFdAsync(file).AsTask();
        }

        Assert.False(stalled.IsCompleted, "precondition: the send buffer must fill");
        await Task.Delay(50);
        Assert.False(receive.IsCompleted);

        Task dispose = Task.Run(pair.Left.Dispose);
        Assert.True(await Completes(dispose, TimeSpan.FromSeconds(10)), "Socket.Dispose hung");
        Assert.True(await Completes(receive, TimeSpan.FromSeconds(10)), "ReceiveFdAsync hung after Dispose");
        Assert.True(await Completes(stalled, TimeSpan.FromSeconds(10)), "stalled SendFdAsync hung after Dispose");

        Exception receiveError = await Assert.ThrowsAnyAsync<Exception>(() => receive);
        Exception sendError = await Assert.ThrowsAnyAsync<Exception>(() => stalled);
        output.WriteLine($"receive: {receiveError.GetType().Name}: {receiveError.Message}\nsend: {sendError.GetType().Name}: {sendError.Message}");
        Assert.IsType<ObjectDisposedException>(receiveError);
        Assert.IsType<ObjectDisposedException>(sendError);

        pair.Right.Dispose();
        file.Dispose();
        DescriptorSnapshot.AssertBackTo(baseline);
    }

    private static async Task<bool> Completes(Task task, TimeSpan timeout) =>
        await Task.WhenAny(task, Task.Delay(timeout)) == task;
}
