using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Text;
using AsyncSendFd.Native.Interop.Unix;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;
using static AsyncSendFd.Tests.Support.Timeouts;
using Linux = AsyncSendFd.Native.Interop.Linux;

namespace AsyncSendFd.Tests.Features;

/// <summary>
/// <see cref="MemoryFile"/>, the sending side of shared memory: a memfd filled in place through a writable mapping,
/// then sealed, after which writing, shrinking and growing it fail with EPERM for every process, the creator included.
/// In the non-parallel collection: it counts descriptors and starts python3.
/// </summary>
[Collection(DescriptorsCollection.Name)]
public class MemoryFileTests
{
    [LinuxFact]
    [SupportedOSPlatform("linux")]
    public void Create_IsACloseOnExecMemfdOfTheLength_ZeroFilledAndWritableInPlace()
    {
        using MemoryFile file = MemoryFile.Create(3 * 4096 + 5);

        Assert.Equal(3 * 4096 + 5, file.Length);
        Assert.Equal(3 * 4096 + 5, RandomAccess.GetLength(file.Handle));
        Assert.StartsWith("/memfd:AsyncSendFd", Descriptors.Target(file.Handle), StringComparison.Ordinal);
        Assert.True(Descriptors.IsCloseOnExec(file.Handle));
        Assert.True(file.IsWritable);
        Assert.Equal(FileSeals.None, file.Seals & FileSeals.Immutable);
        Assert.True(file.Span.IndexOfAnyExcept((byte)0) < 0);

        file.Span.Fill(0x5A);
        file.GetSpan(4096, 3)[..3].Fill(0x01);

        // The span is the file: a read through the descriptor sees what was written through the mapping.
        var readBack = new byte[file.Length];
        Assert.Equal(readBack.Length, RandomAccess.Read(file.Handle, readBack, 0));
        Assert.Equal(0x5A, readBack[0]);
        Assert.Equal([0x01, 0x01, 0x01, 0x5A], readBack[4096..4100]);
        Assert.Equal(0x5A, readBack[^1]);
    }

    [LinuxFact]
    [SupportedOSPlatform("linux")]
    public void Seal_MakesWriteShrinkGrowAndWritableMappingFailWithEperm_InThisProcess()
    {
        using MemoryFile file = MemoryFile.Create(8192);
        file.Span.Fill(7);

        file.Seal();

        Assert.Equal(FileSeals.Immutable | FileSeals.Seal, file.Seals);
        Assert.False(file.IsWritable);
        Assert.Throws<InvalidOperationException>(() => file.Span.Length);
        int fd = (int)file.Handle.DangerousGetHandle();
        Assert.Equal(Linux.LibC.EPERM, ErrnoOf(WriteOneByte(fd)));
        Assert.Equal(Linux.LibC.EPERM, ErrnoOf(TestLibC.ftruncate(fd, 4096)));
        Assert.Equal(Linux.LibC.EPERM, ErrnoOf(TestLibC.ftruncate(fd, 16384)));
        Assert.Throws<UnauthorizedAccessException>(() =>
        {
            using var writable = MemoryMappedFile.CreateFromFile(file.Handle, null, 0, MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: true);
            using MemoryMappedViewAccessor view = writable.CreateViewAccessor();
        });

        // What was written before the seal is there, and stays.
        var readBack = new byte[8192];
        Assert.Equal(8192, RandomAccess.Read(file.Handle, readBack, 0));
        Assert.True(readBack.AsSpan().IndexOfAnyExcept((byte)7) < 0);
    }

    [LinuxFact]
    [SupportedOSPlatform("linux")]
    public void WithoutSeal_TheSameCallsSucceed()
    {
        // The control for the test above: EPERM comes from the seals, not from how the file was made.
        using MemoryFile file = MemoryFile.Create(8192);
        int fd = (int)file.Handle.DangerousGetHandle();

        Assert.Equal(1, WriteOneByte(fd));
        Assert.Equal(0, TestLibC.ftruncate(fd, 16384));
        Assert.Equal(0, TestLibC.ftruncate(fd, 8192));
    }

    [LinuxTheory]
    [InlineData(true)]
    [InlineData(false)]
    [Trait("Category", "Python")]
    [SupportedOSPlatform("linux")]
    public async Task Seal_HoldsInAChildProcessThatReceivesTheFile(bool sealedFile)
    {
        const int Length = 3 * 4096;
        using MemoryFile file = MemoryFile.Create(Length);
        for (int i = 0; i < Length; i++)
        {
            file.Span[i] = (byte)(i % 251);
        }

        if (sealedFile)
        {
            file.Seal();
        }

        using PythonPeer python = await PythonPeer.StartAsync($$"""
            import errno, mmap
            msg, fds, flags, addr = socket.recv_fds(sock, 16, 1)
            fd = fds[0]
            size = os.fstat(fd).st_size
            view = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ)
            content = 'ok' if size == {{Length}} and view[:] == bytes(i % 251 for i in range(size)) else 'wrong'
            view.close()
            results = ['content:' + content]
            def attempt(name, action):
                try:
                    action()
                    results.append(name + ':ok')
                except OSError as e:
                    results.append(name + ':' + errno.errorcode[e.errno])
            attempt('write', lambda: os.pwrite(fd, b'x', 0))
            attempt('shrink', lambda: os.ftruncate(fd, size - 4096))
            attempt('grow', lambda: os.ftruncate(fd, size + 4096))
            attempt('map-writable', lambda: mmap.mmap(fd, 4096, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE).close())
            sock.sendall(' '.join(results).encode() + b'\n')
            """);

        await python.Socket.SendFdAsync(file.Handle).AsTask().WaitAsync(Guard);
        string report = await ReadLineAsync(python);
        await python.AssertSucceededAsync();

        string outcome = sealedFile ? "EPERM" : "ok";
        Assert.Equal($"content:ok write:{outcome} shrink:{outcome} grow:{outcome} map-writable:{outcome}", report);
    }

    [LinuxFact]
    [SupportedOSPlatform("linux")]
    public void SealShrinkAndGrow_KeepsTheMappingWritable_ForABufferReusedAcrossMessages()
    {
        using MemoryFile file = MemoryFile.Create(4096);

        file.Seal(FileSeals.Shrink | FileSeals.Grow);
        file.Span.Fill(1);
        file.Span.Fill(2);

        Assert.True(file.IsWritable);
        Assert.Equal(FileSeals.Shrink | FileSeals.Grow, file.Seals);
        Assert.Equal(Linux.LibC.EPERM, ErrnoOf(TestLibC.ftruncate((int)file.Handle.DangerousGetHandle(), 0)));

        // Sealing against writes later ends the writable phase, as it does at once.
        file.Seal();
        Assert.Equal(FileSeals.Immutable | FileSeals.Seal, file.Seals);
        Assert.False(file.IsWritable);
    }

    [LinuxFact]
    [SupportedOSPlatform("linux")]
    public void Seal_Again_IsANoOp_ButAddingASealAfterSealFails()
    {
        using MemoryFile file = MemoryFile.Create(4096);
        file.Seal(FileSeals.Shrink | FileSeals.Seal);

        file.Seal(FileSeals.Shrink);
        file.Seal(FileSeals.Shrink | FileSeals.Seal);
        InvalidOperationException e = Assert.Throws<InvalidOperationException>(() => file.Seal(FileSeals.Grow));

        Assert.Contains("further seals", e.Message, StringComparison.Ordinal);
        Assert.Equal(FileSeals.Shrink | FileSeals.Seal, file.Seals);
    }

    [LinuxFact]
    [SupportedOSPlatform("linux")]
    public void Seal_WhileAnotherWritableMappingExists_ThrowsIOException()
    {
        // A process that maps the file writable before it is sealed blocks F_SEAL_WRITE (EBUSY): seal before sending.
        using MemoryFile file = MemoryFile.Create(4096);
        using var other = MemoryMappedFile.CreateFromFile(file.Handle, null, 0, MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: true);
        using MemoryMappedViewAccessor view = other.CreateViewAccessor();

        IOException e = Assert.Throws<IOException>(() => file.Seal());

        Assert.Contains("F_ADD_SEALS", e.Message, StringComparison.Ordinal);
        Assert.Equal(FileSeals.None, file.Seals & FileSeals.Immutable);
    }

    [LinuxFact]
    [SupportedOSPlatform("linux")]
    public void ZeroLength_HasAnEmptySpan_AndSeals()
    {
        using MemoryFile file = MemoryFile.Create(0);

        Assert.Equal(0, file.Span.Length);
        file.Seal();
        Assert.Equal(FileSeals.Immutable | FileSeals.Seal, file.Seals);
    }

    [LinuxFact]
    public void BadArguments_AndUseAfterDispose_ThrowTheDocumentedExceptions()
    {
        Assert.Throws<ArgumentOutOfRangeException>("length", () => MemoryFile.Create(-1));

        MemoryFile file = MemoryFile.Create(4096);
        Assert.Throws<ArgumentOutOfRangeException>("offset", () => file.GetSpan(-1, 1));
        Assert.Throws<ArgumentOutOfRangeException>("length", () => file.GetSpan(0, -1));
        Assert.Throws<ArgumentOutOfRangeException>("offset", () => file.GetSpan(4000, 97));
        Assert.Equal(96, file.GetSpan(4000, 96).Length);
        Assert.Throws<ArgumentOutOfRangeException>("seals", () => file.Seal((FileSeals)0x10));

        file.Dispose();
        file.Dispose();
        Assert.Throws<ObjectDisposedException>(() => file.Span.Length);
        Assert.Throws<ObjectDisposedException>(() => file.Handle);
        Assert.Throws<ObjectDisposedException>(() => file.Seal());
        Assert.False(file.IsWritable);
    }

    [LinuxFact]
    public void CreateFillSealDispose_LeavesNoDescriptor()
    {
        Leak.AssertNone(() =>
        {
            using MemoryFile file = MemoryFile.Create(65536);
            file.Span.Fill(3);
            file.Seal();
        });
    }

    private static unsafe nint WriteOneByte(int fd)
    {
        byte b = 1;
        return LibC.write(fd, &b, 1);
    }

    /// <summary>The errno of a call that must have failed.</summary>
    private static int ErrnoOf(nint result)
    {
        Assert.Equal(-1, result);
        return Marshal.GetLastPInvokeError();
    }

    private static async Task<string> ReadLineAsync(PythonPeer python)
    {
        var line = new StringBuilder();
        var buffer = new byte[256];
        while (!line.ToString().EndsWith('\n'))
        {
            int n = await python.Socket.ReceiveAsync(buffer, System.Net.Sockets.SocketFlags.None).WaitAsync(Guard);
            Assert.True(n > 0, $"python3 hung up after '{line}'");
            line.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }

        return line.ToString().TrimEnd('\n');
    }
}
