using System.Net.Sockets;
using System.Runtime.Versioning;
using AsyncSendFd.MemoryFiles;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;
using static AsyncSendFd.Tests.Support.Timeouts;

namespace AsyncSendFd.Tests.Features;

/// <summary>
/// <see cref="ReadOnlyMemoryFile.Open"/>, the receiving side of shared memory: a descriptor is mapped only once the
/// kernel confirms it is a memory file with the required seals and size; anything else is closed and refused with an
/// <see cref="ArgumentException"/> naming what was missing, and a hostile sender cannot crash the receiver. In the
/// non-parallel collection: it counts descriptors and starts python3.
/// </summary>
[Collection(DescriptorsCollection.Name)]
public class ReadOnlyMemoryFileTests
{
    [LinuxFact]
    public async Task SealedFile_SentOverASocket_IsMappedReadOnlyWithItsContentSealsAndLength()
    {
        using var pair = SocketPair.Create();
        using (MemoryFile frame = MemoryFile.Create(10_000))
        {
            Pattern(frame.Span);
            frame.Seal();
            await pair.Left.SendFdAsync(frame.Handle).AsTask().WaitAsync(Guard);
        }

        using ReadOnlyMemoryFile received = ReadOnlyMemoryFile.Open(await pair.Right.ReceiveFdAsync().AsTask().WaitAsync(Guard), expectedLength: 10_000);

        Assert.Equal(10_000, received.Length);
        Assert.Equal(FileSeals.Immutable | FileSeals.Seal, received.Seals);
        Assert.True(Descriptors.IsCloseOnExec(received.Handle));
        var expected = new byte[10_000];
        Pattern(expected);
        Assert.True(received.Span.SequenceEqual(expected));
        Assert.True(received.GetSpan(9_990, 10).SequenceEqual(expected.AsSpan(9_990)));
    }

    /// <summary>
    /// The same round trip on both platforms, so that macOS CI runs its code: macOS has no write seal, so its receiver
    /// must waive <see cref="FileSeals.Write"/> (the default requirement is refused there, saying so), and it sees the
    /// size rounded up to the page size.
    /// </summary>
    [Fact]
    public async Task MemoryFile_RoundTrips_OnLinuxAndMacOS_WithWhatEachCanPromise()
    {
        using var pair = SocketPair.Create();
        var expected = new byte[10_000];
        Pattern(expected);
        using (MemoryFile frame = MemoryFile.Create(10_000))
        {
            Assert.True(Descriptors.IsCloseOnExec(frame.Handle));
            expected.CopyTo(frame.Span);
            frame.Seal();
            Assert.False(frame.IsWritable);
            await pair.Left.SendFdAsync(frame.Handle).AsTask().WaitAsync(Guard);
            await pair.Left.SendFdAsync(frame.Handle).AsTask().WaitAsync(Guard);
        }

        SafeFileHandle first = await pair.Right.ReceiveFdAsync().AsTask().WaitAsync(Guard);
        SafeFileHandle second = await pair.Right.ReceiveFdAsync().AsTask().WaitAsync(Guard);
        if (OperatingSystem.IsMacOS())
        {
            ArgumentException e = Assert.Throws<ArgumentException>("handle", () => ReadOnlyMemoryFile.Open(first));
            Assert.Contains("macOS cannot seal a file against Write", e.Message, StringComparison.Ordinal);
            Assert.True(first.IsClosed);
        }
        else
        {
            ReadOnlyMemoryFile.Open(first).Dispose();
        }

        FileSeals promised = OperatingSystem.IsMacOS() ? FileSeals.Shrink | FileSeals.Grow : FileSeals.Immutable;
        using ReadOnlyMemoryFile received = ReadOnlyMemoryFile.Open(second, promised, expectedLength: 10_000);

        Assert.Equal(promised, received.Seals & promised);
        Assert.Equal(OperatingSystem.IsMacOS() ? RoundUp(10_000, Environment.SystemPageSize) : 10_000, received.Length);
        Assert.True(received.GetSpan(0, 10_000).SequenceEqual(expected));
    }

    [LinuxFact]
    public void Unsealed_IsRefusedAndClosed_NamingEveryMissingSeal()
    {
        using MemoryFile file = MemoryFile.Create(4096);
        SafeFileHandle received = Received(file.Handle);

        ArgumentException e = Assert.Throws<ArgumentException>("handle", () => ReadOnlyMemoryFile.Open(received));

        Assert.Contains("not sealed against Shrink, Grow, Write (its seals: none)", e.Message, StringComparison.Ordinal);
        Assert.Contains("It was closed.", e.Message, StringComparison.Ordinal);
        Assert.True(received.IsClosed);
    }

    [LinuxFact]
    public void PartlySealed_IsRefusedAndClosed_NamingOnlyWhatIsMissing()
    {
        using MemoryFile file = MemoryFile.Create(4096);
        file.Seal(FileSeals.Shrink);
        SafeFileHandle received = Received(file.Handle);

        ArgumentException e = Assert.Throws<ArgumentException>("handle", () => ReadOnlyMemoryFile.Open(received));

        Assert.Contains("not sealed against Grow, Write (its seals: Shrink)", e.Message, StringComparison.Ordinal);
        Assert.True(received.IsClosed);
    }

    [LinuxFact]
    public void RegularFile_IsRefusedAndClosed_AsNotAMemoryFile()
    {
        SafeFileHandle file = Descriptors.TempFile("not shared memory");

        ArgumentException e = Assert.Throws<ArgumentException>("handle", () => ReadOnlyMemoryFile.Open(file));

        Assert.Contains("not a memory file", e.Message, StringComparison.Ordinal);
        Assert.True(file.IsClosed);
    }

    [LinuxFact]
    public void Socket_IsRefusedAndClosed_AsNotAMemoryFile()
    {
        using var pair = SocketPair.Create();
        SafeFileHandle socket = Received(pair.Left.SafeHandle);
        pair.Left.Dispose(); // the received copy is the last one: its close is seen as end of stream

        ArgumentException e = Assert.Throws<ArgumentException>("handle", () => ReadOnlyMemoryFile.Open(socket, FileSeals.None));

        Assert.Contains("not a memory file", e.Message, StringComparison.Ordinal);
        Assert.True(socket.IsClosed);
        Assert.Equal(0, pair.Right.Receive(new byte[1]));
    }

    [LinuxFact]
    public void TmpfsFileNotMadeByMemfdCreate_IsRefused_AsNeverSealable()
    {
        // A file in /dev/shm is a memory file (tmpfs) born with F_SEAL_SEAL: it can never carry the other seals.
        string path = $"/dev/shm/asyncsendfd-test-{Guid.NewGuid():N}";
        SafeFileHandle file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.DeleteOnClose);

        ArgumentException e = Assert.Throws<ArgumentException>("handle", () => ReadOnlyMemoryFile.Open(file));

        Assert.Contains("(its seals: Seal). It is sealed against further seals, so it never will be.", e.Message, StringComparison.Ordinal);
        Assert.True(file.IsClosed);
        Assert.False(File.Exists(path));
    }

    [LinuxFact]
    public void WrongLength_IsRefusedAndClosed_NamingBothLengths()
    {
        using MemoryFile file = MemoryFile.Create(4096);
        file.Seal();
        SafeFileHandle received = Received(file.Handle);

        ArgumentException e = Assert.Throws<ArgumentException>("handle", () => ReadOnlyMemoryFile.Open(received, expectedLength: 8192));

        Assert.Contains("is 4096 bytes, not the 8192 expected", e.Message, StringComparison.Ordinal);
        Assert.True(received.IsClosed);
    }

    [LinuxFact]
    public void EveryRefusal_LeavesNoDescriptor()
    {
        Leak.AssertNone(() =>
        {
            using var pair = SocketPair.Create();
            using MemoryFile unsealed = MemoryFile.Create(4096);
            using MemoryFile partly = MemoryFile.Create(4096);
            partly.Seal(FileSeals.Shrink | FileSeals.Grow);
            using MemoryFile sealedFile = MemoryFile.Create(4096);
            sealedFile.Seal();

            Assert.Throws<ArgumentException>(() => ReadOnlyMemoryFile.Open(Received(unsealed.Handle)));
            Assert.Throws<ArgumentException>(() => ReadOnlyMemoryFile.Open(Received(partly.Handle)));
            Assert.Throws<ArgumentException>(() => ReadOnlyMemoryFile.Open(Received(sealedFile.Handle), expectedLength: 1));
            Assert.Throws<ArgumentException>(() => ReadOnlyMemoryFile.Open(Descriptors.TempFile("x")));
            Assert.Throws<ArgumentException>(() => ReadOnlyMemoryFile.Open(Received(pair.Left.SafeHandle)));
            Assert.Throws<ArgumentOutOfRangeException>(() => ReadOnlyMemoryFile.Open(Received(sealedFile.Handle), (FileSeals)0x40));
            Assert.Throws<ArgumentOutOfRangeException>(() => ReadOnlyMemoryFile.Open(Received(sealedFile.Handle), expectedLength: -1));
            using ReadOnlyMemoryFile accepted = ReadOnlyMemoryFile.Open(Received(sealedFile.Handle));
        });
    }

    [LinuxFact]
    public void ShrinkAndGrowRequired_AcceptsAReusedBuffer_AndSeesTheSendersLaterWrites()
    {
        using MemoryFile buffer = MemoryFile.Create(4096);
        buffer.Seal(FileSeals.Shrink | FileSeals.Grow);

        using ReadOnlyMemoryFile view = ReadOnlyMemoryFile.Open(Received(buffer.Handle), FileSeals.Shrink | FileSeals.Grow);
        buffer.Span.Fill(9);

        Assert.Equal(9, view.Span[4095]);
    }

    [LinuxFact]
    public void NoSealsRequired_IsAnExplicitWaiver_ThatAcceptsAnUnsealedFile()
    {
        using MemoryFile file = MemoryFile.Create(4096);

        using ReadOnlyMemoryFile view = ReadOnlyMemoryFile.Open(Received(file.Handle), FileSeals.None);

        Assert.Equal(FileSeals.None, view.Seals & FileSeals.Immutable);
    }

    [LinuxFact]
    public void ZeroLengthSealedFile_OpensWithAnEmptySpan()
    {
        using MemoryFile file = MemoryFile.Create(0);
        file.Seal();

        using ReadOnlyMemoryFile view = ReadOnlyMemoryFile.Open(Received(file.Handle), expectedLength: 0);

        Assert.Equal(0, view.Span.Length);
    }

    [LinuxFact]
    public void BadArguments_AndUseAfterDispose_ThrowTheDocumentedExceptions()
    {
        SafeFileHandle closed = Descriptors.TempFile();
        closed.Dispose();
        Assert.Throws<ArgumentNullException>("handle", () => ReadOnlyMemoryFile.Open(null!));
        Assert.Throws<ObjectDisposedException>(() => ReadOnlyMemoryFile.Open(closed));
        Assert.Throws<ArgumentException>("handle", () => ReadOnlyMemoryFile.Open(new SafeFileHandle(-1, ownsHandle: true)));

        using MemoryFile file = MemoryFile.Create(4096);
        file.Seal();
        SafeFileHandle received = Received(file.Handle);
        Assert.Throws<ArgumentOutOfRangeException>("requiredSeals", () => ReadOnlyMemoryFile.Open(received, (FileSeals)0x10));
        Assert.True(received.IsClosed);

        ReadOnlyMemoryFile view = ReadOnlyMemoryFile.Open(Received(file.Handle));
        Assert.Throws<ArgumentOutOfRangeException>("offset", () => view.GetSpan(4000, 97));
        view.Dispose();
        view.Dispose();
        Assert.Throws<ObjectDisposedException>(() => view.Span.Length);
        Assert.Throws<ObjectDisposedException>(() => view.Handle);
    }

    /// <summary>
    /// A hostile sender makes a memory file, sends it, and truncates it once the receiver has opened (or refused) it.
    /// Mapped unchecked, the truncated pages would raise SIGBUS in the reader. With the checked open, a file the sender
    /// can still shrink is refused before it is mapped; a file sealed against shrinking cannot be truncated, and every
    /// byte of it reads back.
    /// </summary>
    [LinuxTheory]
    [InlineData("0", false)]
    [InlineData("fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE", false)]
    [InlineData("fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE", true)]
    [Trait("Category", "Python")]
    public async Task HostileSenderTruncatingTheFile_CannotCrashAReceiverThatUsedTheCheckedOpen(string seals, bool accepted)
    {
        const int Length = 1 << 20;
        using PythonPeer python = await PythonPeer.StartAsync($$"""
            import fcntl
            fd = os.memfd_create('hostile', os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
            os.ftruncate(fd, {{Length}})
            os.pwrite(fd, b'\xab' * {{Length}}, 0)
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, {{seals}})
            socket.send_fds(sock, [b'F'], [fd])
            assert sock.recv(1) == b'o'
            try:
                os.ftruncate(fd, 0)
                sock.sendall(b'T')
            except PermissionError:
                sock.sendall(b'P')
            assert sock.recv(1) == b'r'
            """);
        SafeFileHandle received = await python.Socket.ReceiveFdAsync().AsTask().WaitAsync(Guard);

        ReadOnlyMemoryFile? file = null;
        try
        {
            if (accepted)
            {
                file = ReadOnlyMemoryFile.Open(received);
            }
            else
            {
                ArgumentException e = Assert.Throws<ArgumentException>("handle", () => ReadOnlyMemoryFile.Open(received));
                Assert.Contains("not sealed against Shrink", e.Message, StringComparison.Ordinal);
                Assert.True(received.IsClosed);
            }

            await python.Socket.SendAsync("o"u8.ToArray(), SocketFlags.None).WaitAsync(Guard);
            var answer = new byte[1];
            Assert.Equal(1, await python.Socket.ReceiveAsync(answer, SocketFlags.None).WaitAsync(Guard));

            // The sender truncated what it could; whatever this process mapped is still whole.
            Assert.Equal(accepted ? (byte)'P' : (byte)'T', answer[0]);
            if (file is not null)
            {
                Assert.Equal(Length, file.Length);
                Assert.True(file.Span.IndexOfAnyExcept((byte)0xAB) < 0);
            }

            await python.Socket.SendAsync("r"u8.ToArray(), SocketFlags.None).WaitAsync(Guard);
            await python.AssertSucceededAsync();
        }
        finally
        {
            file?.Dispose();
        }
    }

    /// <summary>
    /// The macOS mapping, run here: mmap and munmap have the same signature on 64-bit Linux, and PROT_READ (1),
    /// PROT_WRITE (2) and MAP_SHARED (1) the same values, so the code macOS runs can map a memfd.
    /// </summary>
    [LinuxFact]
    [SupportedOSPlatform("linux")]
    public unsafe void DarwinMapping_MapsAMemoryFileReadableAndWritable()
    {
        Assert.Equal(8, IntPtr.Size);
        using MemoryFile file = MemoryFile.Create(8192);
        file.Span.Fill(4);

#pragma warning disable CA1416 // the macOS code path, deliberately run on Linux (see above)
        using (Mapping writable = DarwinMapping.Map(file.Handle, 8192, writable: true))
        {
            new Span<byte>(writable.Pointer, 8192)[8191] = 5;
        }

        using Mapping readable = DarwinMapping.Map(file.Handle, 8192, writable: false);
#pragma warning restore CA1416

        Assert.Equal(4, readable.Pointer[0]);
        Assert.Equal(5, readable.Pointer[8191]);
        Assert.Equal(5, file.Span[8191]);
    }

    /// <summary>A copy of <paramref name="handle"/> as a receiver gets it: sent over a socket pair and received.</summary>
    private static SafeFileHandle Received(System.Runtime.InteropServices.SafeHandle handle)
    {
        using var pair = SocketPair.Create();
        pair.Left.SendFd(handle);
        return pair.Right.ReceiveFd();
    }

    private static long RoundUp(long value, int granularity) => (value + granularity - 1) / granularity * granularity;

    private static void Pattern(Span<byte> destination)
    {
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = (byte)(i * 7 + (i >> 8));
        }
    }
}
