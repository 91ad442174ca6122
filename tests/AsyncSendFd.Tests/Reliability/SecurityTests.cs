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
            received.Add(socket.SafeHandle);
            await pair.Left.SendSocketAsync(other.Right);
            Socket socketAsync = await pair.Right.ReceiveSocketAsync();
            received.Add(socketAsync.SafeHandle);

            Assert.All(received, h => Assert.True(Descriptors.IsCloseOnExec(h)));
            var numbers = received.Select(h => (int)h.DangerousGetHandle()).ToHashSet();
            var targets = received.Select(Descriptors.Target).ToHashSet();
            Assert.Contains(fileTarget, targets);

            Dictionary<int, string> child = ChildDescriptors();

            Assert.NotEmpty(child);
            Assert.DoesNotContain(child, entry => targets.Contains(entry.Value));
            Assert.DoesNotContain(child.Keys, n => n > 2 && numbers.Contains(n) && child[n] != "?");
        }
        finally
        {
            foreach (SafeHandle handle in received)
            {
                handle.Dispose();
            }
        }
    }

    /// <summary>Starts python3 (required) and returns its open descriptors and their targets.</summary>
    private static Dictionary<int, string> ChildDescriptors()
    {
        var start = new ProcessStartInfo(PythonPeer.FindPython3()) { RedirectStandardOutput = true, UseShellExecute = false };
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
