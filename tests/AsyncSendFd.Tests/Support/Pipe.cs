using System.Net.Sockets;
using System.Runtime.InteropServices;
using AsyncSendFd.Native.Interop.Unix;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Tests.Support;

/// <summary>
/// A close-on-exec pipe. Its read end reports hang-up exactly when every copy of the write end is closed,
/// which proves that a passed (or dropped) write end was not leaked anywhere in this process.
/// </summary>
internal sealed unsafe class Pipe : IDisposable
{
    private Pipe(SafeFileHandle read, SafeFileHandle write)
    {
        Read = read;
        Write = write;
    }

    public SafeFileHandle Read { get; }

    public SafeFileHandle Write { get; }

    public static Pipe Create()
    {
        int* fds = stackalloc int[2];
        if (OperatingSystem.IsLinux())
        {
            if (TestLibC.pipe2(fds, TestLibC.O_CLOEXEC) != 0)
            {
                throw new IOException($"pipe2 failed with errno {Marshal.GetLastPInvokeError()}");
            }
        }
        else
        {
            // macOS has no pipe2: close-on-exec right after (no test starts a child meanwhile).
            if (TestLibC.pipe(fds) != 0)
            {
                throw new IOException($"pipe failed with errno {Marshal.GetLastPInvokeError()}");
            }

            _ = LibC.fcntl(fds[0], TestLibC.F_SETFD, TestLibC.FD_CLOEXEC);
            _ = LibC.fcntl(fds[1], TestLibC.F_SETFD, TestLibC.FD_CLOEXEC);
        }

        return new Pipe(new SafeFileHandle(fds[0], ownsHandle: true), new SafeFileHandle(fds[1], ownsHandle: true));
    }

    /// <summary>Whether every write end is closed (POLLHUP on the read end), without waiting.</summary>
    public bool AllWritersClosed() => HasEvent(Read, TestLibC.POLLHUP);

    /// <summary>Writes bytes through a write end (the original or a received copy).</summary>
    public static void WriteAll(SafeHandle writeEnd, ReadOnlySpan<byte> bytes)
    {
        fixed (byte* p = bytes)
        {
            nint written = LibC.write((int)writeEnd.DangerousGetHandle(), p, (nuint)bytes.Length);
            if (written != bytes.Length)
            {
                throw new IOException($"write returned {written}, errno {Marshal.GetLastPInvokeError()}");
            }
        }
    }

    /// <summary>Reads what is in the pipe now (the caller knows it is there).</summary>
    public byte[] ReadAvailable(int max = 4096)
    {
        var buffer = new byte[max];
        fixed (byte* p = buffer)
        {
            nint n = LibC.read((int)Read.DangerousGetHandle(), p, (nuint)max);
            if (n < 0)
            {
                throw new IOException($"read failed with errno {Marshal.GetLastPInvokeError()}");
            }

            return buffer[..(int)n];
        }
    }

    public void Dispose()
    {
        Read.Dispose();
        Write.Dispose();
    }

    /// <summary>poll(2) with a zero timeout: whether <paramref name="events"/> (or HUP/ERR) is reported now.</summary>
    public static bool HasEvent(SafeHandle handle, short events)
    {
        var entry = new pollfd { fd = (int)handle.DangerousGetHandle(), events = events };
        int ready = LibC.poll(&entry, 1, 0);
        return ready > 0 && (entry.revents & events) != 0;
    }

    /// <summary>Whether a socket has anything to read (data, a message of any length, or end of stream) right now.</summary>
    public static bool IsReadable(Socket socket) => HasEvent(socket.SafeHandle, TestLibC.POLLIN);
}
