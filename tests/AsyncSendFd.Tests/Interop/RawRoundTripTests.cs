using System.ComponentModel;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using AsyncSendFd.Native.Interop;
using AsyncSendFd.Tests.Support;
using Linux = AsyncSendFd.Native.Interop.Linux;
using Unix = AsyncSendFd.Native.Interop.Unix;

namespace AsyncSendFd.Tests.Interop;

/// <summary>Tests that count the process's open descriptors run alone, so no other test opens or closes one meanwhile.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class InteropDescriptorCountCollection
{
    public const string Name = "Interop descriptor counting";
}

/// <summary>
/// Passes descriptors through a real stream socketpair using only the interop layer: socketpair, sendmsg,
/// recvmsg, msghdr, and the control message writer and reader. Nothing from the managed library is involved.
/// </summary>
[Collection(InteropDescriptorCountCollection.Name)]
[SupportedOSPlatform("linux")] // sendmsg/recvmsg with the Linux msghdr and MSG_CMSG_CLOEXEC
public sealed unsafe class RawRoundTripTests
{
    private const int OCloexec = 0x80000; // 02000000 octal, as /proc/self/fdinfo prints it
    private const int OAccmode = 0x3;

    [LinuxTheory]
    [InlineData(1)]
    [InlineData(252)]
    public void SendmsgThenRecvmsgWithCmsgCloexec_PassesNDescriptors_AsCloseOnExecDuplicatesOfTheSameFiles_AndLeaksNone(int n)
    {
        int baseline = Support.Leak.StableCount();
        var sources = new List<int>();
        var received = new List<int>();
        int* sv = stackalloc int[2] { -1, -1 };
        try
        {
            Check(Unix.LibC.socketpair(Linux.LibC.AF_UNIX, Linux.LibC.SOCK_STREAM | Linux.LibC.SOCK_CLOEXEC, 0, sv), "socketpair");
            sources.AddRange(OpenPipeEnds(n));
            int[] sent = sources.Take(n).ToArray();
            (string Target, int Access)[] identities = sent.Select(fd => (Target(fd), Flags(fd) & OAccmode)).ToArray();
            Assert.Equal(n, identities.Distinct().Count()); // each descriptor names a different open file

            Send(sv[0], sent);
            int flags = Receive(sv[1], Linux.LibC.MSG_CMSG_CLOEXEC, received);

            Assert.Equal(0, flags & Linux.LibC.MSG_CTRUNC);
            Assert.Equal(n, received.Count);
            Assert.Empty(received.Intersect(sources));
            for (int i = 0; i < n; i++)
            {
                Assert.Equal(identities[i], (Target(received[i]), Flags(received[i]) & OAccmode));
                Assert.True((Flags(received[i]) & OCloexec) != 0, $"received descriptor {i} (fd {received[i]}) is not close-on-exec");
                Assert.True((Flags(sent[i]) & OCloexec) == 0, "the flag must come from MSG_CMSG_CLOEXEC, not from the source");
            }
        }
        finally
        {
            CloseAll(received);
            CloseAll(sources);
            CloseAll([sv[0], sv[1]]);
        }

        Assert.Equal(baseline, Descriptors.CountSettledAt(baseline));
    }

    [LinuxFact]
    public void RecvmsgWithoutCmsgCloexec_LeavesTheReceivedDescriptorInheritable()
    {
        var sources = new List<int>();
        var received = new List<int>();
        int* sv = stackalloc int[2] { -1, -1 };
        try
        {
            Check(Unix.LibC.socketpair(Linux.LibC.AF_UNIX, Linux.LibC.SOCK_STREAM | Linux.LibC.SOCK_CLOEXEC, 0, sv), "socketpair");
            sources.AddRange(OpenPipeEnds(1));

            Send(sv[0], [sources[0]]);
            Receive(sv[1], 0, received);

            Assert.Single(received);
            Assert.Equal(0, Flags(received[0]) & OCloexec);
        }
        finally
        {
            CloseAll(received);
            CloseAll(sources);
            CloseAll([sv[0], sv[1]]);
        }
    }

    private static void Send(int socket, int[] descriptors)
    {
        ControlMessageLayout layout = Linux.LibC.ControlMessageLayout;
        Span<byte> control = stackalloc byte[layout.SpaceForDescriptors(descriptors.Length)];
        var writer = new ControlMessageWriter(control, layout);
        writer.WriteRights(descriptors);
        byte payload = (byte)'x';
        var iov = new Unix.iovec { iov_base = &payload, iov_len = 1 };

        fixed (byte* controlPointer = writer.Written)
        {
            var msg = new Linux.msghdr
            {
                msg_iov = &iov,
                msg_iovlen = 1,
                msg_control = controlPointer,
                msg_controllen = (nuint)writer.BytesWritten,
            };
            nint sent = Linux.LibC.sendmsg(socket, &msg, Linux.LibC.MSG_NOSIGNAL);
            Check(sent, "sendmsg");
            Assert.Equal(1, sent);
        }
    }

    /// <summary>Receives one message, adds every descriptor it carried to <paramref name="received"/> and returns msg_flags.</summary>
    private static int Receive(int socket, int flags, List<int> received)
    {
        // Room for far more than was sent: 2048 bytes, as the library's receives, holds 253 descriptors and credentials.
        byte* control = stackalloc byte[2048];
        byte* data = stackalloc byte[16];
        var iov = new Unix.iovec { iov_base = data, iov_len = 16 };
        var msg = new Linux.msghdr { msg_iov = &iov, msg_iovlen = 1, msg_control = control, msg_controllen = 2048 };

        nint read = Linux.LibC.recvmsg(socket, &msg, flags | Linux.LibC.MSG_DONTWAIT);
        Check(read, "recvmsg");

        // Collect before asserting anything, so that the caller closes whatever arrived.
        var reader = new ControlMessageReader(new ReadOnlySpan<byte>(control, (int)msg.msg_controllen), Linux.LibC.ControlMessageLayout);
        while (reader.TryReadNext(out ControlMessage message))
        {
            if (message.Level == Linux.LibC.SOL_SOCKET && message.Type == Linux.LibC.SCM_RIGHTS)
            {
                received.AddRange(message.Descriptors.ToArray());
            }
        }

        Assert.Equal(1, read);
        Assert.Equal((byte)'x', data[0]);
        Assert.False(reader.IsMalformed);
        return msg.msg_flags;
    }

    /// <summary>Opens pipes until there are at least <paramref name="count"/> ends; read and write ends differ in access mode.</summary>
    private static List<int> OpenPipeEnds(int count)
    {
        var ends = new List<int>();
        int* fds = stackalloc int[2];
        try
        {
            while (ends.Count < count)
            {
                Check(Unix.LibC.pipe(fds), "pipe");
                ends.Add(fds[0]);
                ends.Add(fds[1]);
            }
        }
        catch
        {
            CloseAll(ends);
            throw;
        }

        return ends;
    }

    private static void CloseAll(IEnumerable<int> descriptors)
    {
        foreach (int fd in descriptors.Where(fd => fd >= 0))
        {
            Unix.LibC.close(fd);
        }
    }

    private static string Target(int fd) => new FileInfo($"/proc/self/fd/{fd}").LinkTarget ?? "";

    /// <summary>The open-file flags from /proc/self/fdinfo (octal).</summary>
    private static int Flags(int fd)
    {
        string line = File.ReadLines($"/proc/self/fdinfo/{fd}").First(l => l.StartsWith("flags:", StringComparison.Ordinal));
        return Convert.ToInt32(line["flags:".Length..].Trim(), 8);
    }

    private static void Check(nint result, string call)
    {
        if (result < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new Win32Exception(errno, $"{call} failed with errno {errno}: {new Win32Exception(errno).Message}");
        }
    }
}
