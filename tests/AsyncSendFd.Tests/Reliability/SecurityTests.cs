using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Tests.Reliability;

/// <summary>Received descriptors are close-on-exec: a child started afterwards never inherits one.</summary>
public class SecurityTests
{
    [Fact]
    public async Task DescriptorsReceivedByEveryApi_AreNotInheritedByAChildStartedAfterwards()
    {
        using var pair = SocketPair.Create();
        using var other = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile("secret");
        string fileTarget = Descriptors.Target(file);
        var received = new List<SafeHandle>();
        var sockets = new List<Socket>(); // a Socket's finalizer closes its handle: keep the owners alive
        try
        {
            pair.Left.SendFd(file);
            received.Add(pair.Right.ReceiveFd());
            await pair.Left.SendFdAsync(file);
            received.Add(await pair.Right.ReceiveFdAsync());

            pair.Left.SendFds("m"u8, [file, file, file]);
            var slots = new SafeFileHandle?[3];
            pair.Right.ReceiveFds(new byte[1], slots);
            received.AddRange(slots!);
            await pair.Left.SendFdsAsync(new byte[1], new SafeHandle[] { file, file });
            var asyncSlots = new SafeFileHandle?[2];
            await pair.Right.ReceiveFdsAsync(new byte[1], asyncSlots);
            received.AddRange(asyncSlots!);

            pair.Left.SendSocket(other.Left);
            Socket socket = pair.Right.ReceiveSocket();
            sockets.Add(socket);
            received.Add(socket.SafeHandle);
            await pair.Left.SendSocketAsync(other.Right);
            Socket socketAsync = await pair.Right.ReceiveSocketAsync();
            sockets.Add(socketAsync);
            received.Add(socketAsync.SafeHandle);

            Assert.All(received, h => Assert.True(Descriptors.IsCloseOnExec(h)));
            var parent = received.ToDictionary(h => (int)h.DangerousGetHandle(), Descriptors.Target);
            Assert.Contains(fileTarget, parent.Values);

            Dictionary<int, string> child = ChildDescriptors();
            string listing = string.Join(", ", child.Select(p => $"{p.Key}->{p.Value}"));

            // The child may reuse a received number for a descriptor of its own; what must never appear is the
            // received open file description itself (same target), under that number or any other.
            Assert.NotEmpty(child);
            Assert.False(parent.Any(p => child.TryGetValue(p.Key, out string? target) && target == p.Value), $"inherited by number: {listing}");
            Assert.False(child.Values.Any(parent.ContainsValue), $"a received descriptor's target is open in the child: {listing}");
        }
        finally
        {
            foreach (Socket socket in sockets)
            {
                socket.Dispose();
            }

            foreach (SafeHandle handle in received)
            {
                handle.Dispose();
            }
        }
    }

    /// <summary>Starts python3 (required) and returns its open descriptors and their targets.</summary>
    private static Dictionary<int, string> ChildDescriptors()
    {
        var start = new ProcessStartInfo(RawSendmsgPeer.FindPython3()) { RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("""
            import os
            for fd in sorted(int(n) for n in os.listdir('/proc/self/fd')):
                try:
                    print(fd, os.readlink('/proc/self/fd/%d' % fd))
                except OSError:
                    print(fd, '?')
            """);
        using Process process = Process.Start(start)!;
        string text = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)));
        Assert.Equal(0, process.ExitCode);
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' ', 2))
            .ToDictionary(parts => int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture), parts => parts[1]);
    }
}
