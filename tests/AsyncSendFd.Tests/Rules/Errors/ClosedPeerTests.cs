using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;
using Linux = AsyncSendFd.Native.Interop.Linux;

namespace AsyncSendFd.Tests.Rules.Errors;

/// <summary>Writing to a closed peer throws SocketException and never raises SIGPIPE.</summary>
public class ClosedPeerTests
{
    [Theory]
    [InlineData(SocketType.Stream)]
    [InlineData(SocketType.Dgram)]
    [LinuxInlineData(SocketType.Seqpacket)]
    public async Task Sends_ToAClosedPeer_ThrowSocketException(SocketType type)
    {
        using var pair = SocketPair.Create(type);
        using SafeFileHandle file = Descriptors.TempFile();
        pair.Right.Dispose();

        Assert.Throws<SocketException>(() => pair.Left.SendFd(file));
        Assert.Throws<SocketException>(() => pair.Left.SendFds("data"u8, [file]));
        Assert.Throws<SocketException>(() => pair.Left.SendFds("no descriptors"u8, []));
        await Assert.ThrowsAsync<SocketException>(async () => await pair.Left.SendFdAsync(file));
        await Assert.ThrowsAsync<SocketException>(async () => await pair.Left.SendFdsAsync(new byte[8], new SafeHandle[] { file }));
        await Assert.ThrowsAsync<SocketException>(async () => await pair.Left.SendSocketAsync(pair.Left));
        Assert.False(file.IsClosed);
    }

    /// <summary>
    /// The .NET runtime ignores SIGPIPE, so a raised one would go unnoticed. The test blocks SIGPIPE on its own
    /// thread, where an ignored but blocked signal stays pending, and looks for it after each send. A plain
    /// write(2) to the same closed socket is the control: it must leave SIGPIPE pending.
    /// </summary>
    [SupportedOSPlatform("linux")] // sigtimedwait; on macOS the sockets carry SO_NOSIGPIPE, so the raw-write control cannot raise SIGPIPE
    [LinuxFact]
    public void Sends_ToAClosedStreamPeer_DoNotRaiseSigPipe()
    {
        using var pair = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile();
        pair.Right.Dispose();
        var results = new List<string>();
        Exception? failure = null;

        var thread = new Thread(() =>
        {
            try
            {
                using var blocked = new BlockedSigPipe();
                Assert.True(blocked.RawWriteRaisesSigPipe(pair.Left), "control: a plain write(2) to a closed peer must raise SIGPIPE");

                Assert.Throws<SocketException>(() => pair.Left.SendFd(file));
                results.Add($"SendFd: {blocked.TakePending()}");
                Assert.Throws<SocketException>(() => pair.Left.SendFds("abc"u8, [file, file]));
                results.Add($"SendFds: {blocked.TakePending()}");
                Assert.Throws<SocketException>(() => pair.Left.SendFds("abc"u8, []));
                results.Add($"SendFds without descriptors: {blocked.TakePending()}");

                // The first attempt of an async send runs on the calling thread.
                ValueTask send = pair.Left.SendFdAsync(file);
                Assert.True(send.IsFaulted);
                results.Add($"SendFdAsync: {blocked.TakePending()}");
                ValueTask sendMany = pair.Left.SendFdsAsync(new byte[3], new SafeHandle[] { file });
                Assert.True(sendMany.IsFaulted);
                results.Add($"SendFdsAsync: {blocked.TakePending()}");
                Assert.IsType<SocketException>(send.AsTask().Exception!.InnerException);
                Assert.IsType<SocketException>(sendMany.AsTask().Exception!.InnerException);
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        thread.Start();
        Assert.True(thread.Join(TimeSpan.FromSeconds(10)));
        if (failure is not null)
        {
            throw new Xunit.Sdk.XunitException($"Thread failed: {failure}");
        }

        Assert.All(results, r => Assert.EndsWith("False", r, StringComparison.Ordinal));
    }

    /// <summary>SIGPIPE blocked on the current thread for the object's lifetime.</summary>
    [SupportedOSPlatform("linux")]
    private sealed unsafe class BlockedSigPipe : IDisposable
    {
        private readonly byte[] _set = new byte[TestLibC.SigSetBytes];

        public BlockedSigPipe()
        {
            SetBit(_set, TestLibC.SIGPIPE);
            fixed (byte* set = _set)
            {
                Assert.Equal(0, TestLibC.pthread_sigmask(TestLibC.SIG_BLOCK, set, null));
            }

            TakePending();
        }

        public bool RawWriteRaisesSigPipe(Socket socket)
        {
            byte one = 1;
            nint written = AsyncSendFd.Native.Interop.Unix.LibC.write((int)socket.SafeHandle.DangerousGetHandle(), &one, 1);
            Assert.Equal(-1, written);
            Assert.Equal(Linux.LibC.EPIPE, Marshal.GetLastPInvokeError());
            return TakePending();
        }

        /// <summary>Whether SIGPIPE is pending for this thread (or process); consumes it.</summary>
        public bool TakePending()
        {
            var pending = new byte[TestLibC.SigSetBytes];
            fixed (byte* p = pending)
            fixed (byte* set = _set)
            {
                Assert.Equal(0, TestLibC.sigpending(p));
                bool isPending = (pending[(TestLibC.SIGPIPE - 1) / 8] & (1 << ((TestLibC.SIGPIPE - 1) % 8))) != 0;
                if (isPending)
                {
                    long* zero = stackalloc long[2];
                    zero[0] = 0;
                    zero[1] = 0;
                    Assert.Equal(TestLibC.SIGPIPE, TestLibC.sigtimedwait(set, null, zero));
                }

                return isPending;
            }
        }

        public void Dispose()
        {
            TakePending();
            fixed (byte* set = _set)
            {
                TestLibC.pthread_sigmask(TestLibC.SIG_UNBLOCK, set, null);
            }
        }

        private static void SetBit(byte[] set, int signal) => set[(signal - 1) / 8] |= (byte)(1 << ((signal - 1) % 8));
    }
}
