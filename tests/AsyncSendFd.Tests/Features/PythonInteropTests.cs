using System.Runtime.InteropServices;
using System.Text;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;
using static AsyncSendFd.Tests.Support.Timeouts;

namespace AsyncSendFd.Tests.Features;

/// <summary>
/// Interoperates with Python's socket.send_fds/recv_fds, and pins the wire format shared with the Rust crate
/// async-send-fd: one descriptor on exactly four zero bytes. Descriptor identity is checked by writing through
/// the passed pipe ends. In the non-parallel collection so that no fork inherits another test's pipe ends.
/// </summary>
[Collection(DescriptorsCollection.Name)]
[Trait("Category", "Python")]
public class PythonInteropTests
{
    [Fact]
    public async Task SendFd_IsReceivedByPythonRecvFds_AsExactlyFourZeroBytesAndOneDescriptor()
    {
        using var sync = Pipe.Create();
        using var async = Pipe.Create();
        using PythonPeer python = await PythonPeer.StartAsync("""
            for text in (b'sync', b'async'):
                msg, fds, flags, addr = socket.recv_fds(sock, 1024, 16)
                assert msg == b'\x00\x00\x00\x00', msg
                assert len(fds) == 1, fds
                assert flags & socket.MSG_CTRUNC == 0, flags
                os.write(fds[0], b'python wrote ' + text)
                os.close(fds[0])
            """);

        python.Socket.SendFd(sync.Write);
        await python.Socket.SendFdAsync(async.Write).AsTask().WaitAsync(Guard);
        await python.AssertSucceededAsync();

        Assert.Equal("python wrote sync", Encoding.ASCII.GetString(sync.ReadAvailable()));
        Assert.Equal("python wrote async", Encoding.ASCII.GetString(async.ReadAvailable()));
    }

    [Fact]
    public async Task ReceiveFd_AcceptsPythonSendFdsInTheAsyncSendFdFormat()
    {
        using PythonPeer python = await PythonPeer.StartAsync("""
            for expected in (b'dotnet wrote sync', b'dotnet wrote async'):
                r, w = os.pipe()
                socket.send_fds(sock, [b'\0\0\0\0'], [w])
                os.close(w)
                data = b''
                while True:
                    chunk = os.read(r, 100)
                    if not chunk:
                        break
                    data += chunk
                os.close(r)
                assert data == expected, data
            """);

        using (SafeFileHandle received = python.Socket.ReceiveFd())
        {
            Pipe.WriteAll(received, "dotnet wrote sync"u8);
        }

        using (SafeFileHandle received = await python.Socket.ReceiveFdAsync().AsTask().WaitAsync(Guard))
        {
            Assert.True(Descriptors.IsCloseOnExec(received));
            Pipe.WriteAll(received, "dotnet wrote async"u8);
        }

        await python.AssertSucceededAsync();
    }

    [Fact]
    public async Task SeveralDescriptors_TravelBothWaysBetweenDotNetAndPython()
    {
        Pipe[] pipes = [Pipe.Create(), Pipe.Create(), Pipe.Create()];
        try
        {
            using PythonPeer python = await PythonPeer.StartAsync("""
                msg, fds, flags, addr = socket.recv_fds(sock, 1024, 300)
                assert msg == b'three', msg
                assert len(fds) == 3, fds
                for i, fd in enumerate(fds):
                    os.write(fd, b'py%d;' % i)
                socket.send_fds(sock, [b'back'], list(reversed(fds)))
                for fd in fds:
                    os.close(fd)
                """);

            python.Socket.SendFds("three"u8, [.. pipes.Select(p => p.Write)]);

            var data = new byte[64];
            var slots = new SafeFileHandle?[8];
            FdReceiveResult result = await python.Socket.ReceiveFdsAsync(data, slots).AsTask().WaitAsync(Guard);
            try
            {
                Assert.Equal(new FdReceiveResult(4, 3), result);
                Assert.Equal("back", Encoding.ASCII.GetString(data, 0, 4));
                for (int i = 0; i < 3; i++)
                {
                    Pipe source = pipes[2 - i];
                    Assert.Equal(Descriptors.Target(source.Write), Descriptors.Target(slots[i]!));
                    Pipe.WriteAll(slots[i]!, "net;"u8);
                }
            }
            finally
            {
                Descriptors.DisposeAll(slots);
            }

            await python.AssertSucceededAsync();
            for (int i = 0; i < 3; i++)
            {
                Assert.Equal($"py{i};net;", Encoding.ASCII.GetString(pipes[i].ReadAvailable()));
            }
        }
        finally
        {
            Array.ForEach(pipes, p => p.Dispose());
        }
    }

    [Fact]
    public async Task MaxFdsPerMessage_TravelsBothWaysBetweenDotNetAndPython()
    {
        using var pipe = Pipe.Create();
        using PythonPeer python = await PythonPeer.StartAsync("""
            msg, fds, flags, addr = socket.recv_fds(sock, 16, 300)
            assert msg == b'max', msg
            assert len(fds) == 252, len(fds)
            assert flags & socket.MSG_CTRUNC == 0, flags
            socket.send_fds(sock, [b'all'], fds)
            for fd in fds:
                os.close(fd)
            """);

        SafeHandle[] fds = [.. Enumerable.Repeat<SafeHandle>(pipe.Write, SocketFdExtensions.MaxFdsPerMessage)];
        await python.Socket.SendFdsAsync("max"u8.ToArray(), fds).AsTask().WaitAsync(Guard);

        var slots = new SafeFileHandle?[SocketFdExtensions.MaxFdsPerMessage];
        FdReceiveResult result = python.Socket.ReceiveFds(new byte[16], slots);
        try
        {
            Assert.Equal(new FdReceiveResult(3, SocketFdExtensions.MaxFdsPerMessage), result);
            string target = Descriptors.Target(pipe.Write);
            Assert.All(slots, s => Assert.Equal(target, Descriptors.Target(s!)));
        }
        finally
        {
            Descriptors.DisposeAll(slots);
        }

        await python.AssertSucceededAsync();
    }

    [Fact]
    public async Task ReceiveFd_WhenPythonSendsTwoDescriptors_ClosesBothAndThrows_ThenTheNextWorks()
    {
        using PythonPeer python = await PythonPeer.StartAsync("""
            r, w = os.pipe()
            socket.send_fds(sock, [b'\0\0\0\0'], [w, w])
            socket.send_fds(sock, [b'\0\0\0\0'], [w])
            os.close(w)
            assert os.read(r, 100) == b'second'
            assert os.read(r, 100) == b'', 'a descriptor leaked'
            """);

        Assert.ThrowsAny<IOException>(() => python.Socket.ReceiveFd());
        using (SafeFileHandle received = python.Socket.ReceiveFd())
        {
            Pipe.WriteAll(received, "second"u8);
        }

        await python.AssertSucceededAsync();
    }
}
