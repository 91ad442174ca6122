using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Text;
using AsyncSendFd.Systemd;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Tests.Features;

// Sets $NOTIFY_SOCKET for the process: must not run beside anything else that reads it.
[Collection(nameof(SystemdTests))]
[CollectionDefinition(nameof(SystemdTests), DisableParallelization = true)]
public class SystemdTests
{
    [Theory]
    [InlineData(false)]
    [LinuxInlineData(true)] // an abstract notify socket: Linux only
    public async Task StoreFdsAsync_SendsFdStoreMessageWithDescriptors_ToPathOrAbstractNotifySocket(bool isAbstract)
    {
        string name = $"asyncsendfd-notify-{Guid.NewGuid():N}";
        string notifySocket = isAbstract ? "@" + name : Path.Combine(Path.GetTempPath(), name + ".sock");
        using var serviceManager = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        serviceManager.Bind(new UnixDomainSocketEndPoint(isAbstract ? "\0" + name : notifySocket));
        Environment.SetEnvironmentVariable(SystemdNotify.NotifySocketVariable, notifySocket);
        try
        {
            using SafeFileHandle first = Descriptors.TempFile("first");
            using SafeFileHandle second = Descriptors.TempFile("second");

            Assert.True(SystemdNotify.IsAvailable);
            Assert.True(await SystemdNotify.StoreFdsAsync("listener", new SafeHandle[] { first, second }));

            var data = new byte[256];
            var slots = new SafeFileHandle?[4];
            FdReceiveResult result = serviceManager.ReceiveFds(data, slots);
            Assert.Equal("FDSTORE=1\nFDNAME=listener", Encoding.UTF8.GetString(data, 0, result.BytesReceived));
            Assert.Equal(2, result.FdCount);
            Assert.Equal("first", Descriptors.ReadAll(slots[0]!));
            Assert.Equal("second", Descriptors.ReadAll(slots[1]!));
            slots[0]!.Dispose();
            slots[1]!.Dispose();
        }
        finally
        {
            Environment.SetEnvironmentVariable(SystemdNotify.NotifySocketVariable, null);
            if (!isAbstract)
            {
                File.Delete(notifySocket);
            }
        }
    }

    [Fact]
    public async Task NotifyAsync_WithoutNotifySocket_ReturnsFalse()
    {
        Environment.SetEnvironmentVariable(SystemdNotify.NotifySocketVariable, null);

        Assert.False(SystemdNotify.IsAvailable);
        Assert.False(await SystemdNotify.NotifyAsync("READY=1"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("a:b")]
    [InlineData("new\nline")]
    public async Task StoreFdsAsync_WithAnInvalidName_ThrowsArgumentException(string name)
    {
        await Assert.ThrowsAsync<ArgumentException>(async () => await SystemdNotify.StoreFdsAsync(name, ReadOnlyMemory<SafeHandle>.Empty));
    }

    [Fact]
    public unsafe void Take_WithListenVariablesForThisProcess_AdoptsEachDescriptorWithItsName()
    {
        // Passed descriptors are consecutive from a fixed number; duplicate two files to free, consecutive numbers.
        using SafeFileHandle first = Descriptors.TempFile("one");
        using SafeFileHandle second = Descriptors.TempFile("two");
        int start = Native.Interop.Unix.LibC.fcntl((int)first.DangerousGetHandle(), TestLibC.F_DUPFD_CLOEXEC, 4000);
        int next = Native.Interop.Unix.LibC.fcntl((int)second.DangerousGetHandle(), TestLibC.F_DUPFD_CLOEXEC, start + 1);
        Assert.Equal(start + 1, next);
        Native.Interop.Unix.LibC.fcntl(start, TestLibC.F_SETFD, 0); // as systemd hands them over: inheritable
        var environment = new Dictionary<string, string>
        {
            ["LISTEN_PID"] = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["LISTEN_FDS"] = "2",
            ["LISTEN_FDNAMES"] = "listener:stored",
        };

        IReadOnlyList<SystemdFileDescriptor> taken = SystemdListenFds.Take(environment.GetValueOrDefault, Environment.ProcessId, start);

        Assert.Equal(["listener", "stored"], taken.Select(t => t.Name));
        Assert.Equal("one", Descriptors.ReadAll(taken[0].Handle));
        Assert.Equal("two", Descriptors.ReadAll(taken[1].Handle));
        Assert.All(taken, t => Assert.True(Descriptors.IsCloseOnExec(t.Handle)));
        foreach (SystemdFileDescriptor descriptor in taken)
        {
            descriptor.Handle.Dispose();
        }
    }

    [Fact]
    public unsafe void Take_WhenListenFdsOverstatesTheCount_ThrowsAndAdoptsNothing()
    {
        // Two passed descriptors at free, consecutive numbers, and a third number that is not open.
        using SafeFileHandle first = Descriptors.TempFile("one");
        using SafeFileHandle second = Descriptors.TempFile("two");
        int start = Native.Interop.Unix.LibC.fcntl((int)first.DangerousGetHandle(), TestLibC.F_DUPFD_CLOEXEC, 5000);
        int next = Native.Interop.Unix.LibC.fcntl((int)second.DangerousGetHandle(), TestLibC.F_DUPFD_CLOEXEC, start + 1);
        Assert.Equal(start + 1, next);
        Assert.Equal(-1, Native.Interop.Unix.LibC.fcntl(start + 2, TestLibC.F_GETFD, 0));
        Native.Interop.Unix.LibC.fcntl(start, TestLibC.F_SETFD, 0);
        Native.Interop.Unix.LibC.fcntl(next, TestLibC.F_SETFD, 0);
        var environment = new Dictionary<string, string>
        {
            ["LISTEN_PID"] = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["LISTEN_FDS"] = "3",
        };
        try
        {
            InvalidOperationException e = Assert.Throws<InvalidOperationException>(
                () => SystemdListenFds.Take(environment.GetValueOrDefault, Environment.ProcessId, start));
            Assert.Contains((start + 2).ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message, StringComparison.Ordinal);

            // Collecting on purpose: an owning handle adopted and dropped by Take would close its descriptor only when finalized.
            GC.Collect();
            GC.WaitForPendingFinalizers();
            Assert.Equal(0, Native.Interop.Unix.LibC.fcntl(start, TestLibC.F_GETFD, 0)); // still open, flags untouched
            Assert.Equal(0, Native.Interop.Unix.LibC.fcntl(next, TestLibC.F_GETFD, 0));
        }
        finally
        {
            Native.Interop.Unix.LibC.close(start);
            Native.Interop.Unix.LibC.close(next);
        }
    }

    [Theory]
    [InlineData("2147483647", typeof(InvalidOperationException))] // more than there are descriptor numbers above the first
    [InlineData("99999999999", typeof(FormatException))] // not an int
    [InlineData("-1", typeof(FormatException))]
    public void Take_WithAnImpossibleCount_ThrowsAClearException(string count, Type expected)
    {
        var environment = new Dictionary<string, string>
        {
            ["LISTEN_PID"] = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["LISTEN_FDS"] = count,
        };

        Exception? e = Record.Exception(() => SystemdListenFds.Take(environment.GetValueOrDefault, Environment.ProcessId, 3));

        Assert.NotNull(e);
        Assert.Equal(expected, e.GetType());
    }

    [Fact]
    public void Take_WhenTheVariablesAreForAnotherProcess_TakesNothing()
    {
        var environment = new Dictionary<string, string> { ["LISTEN_PID"] = "1", ["LISTEN_FDS"] = "3" };

        Assert.Empty(SystemdListenFds.Take(environment.GetValueOrDefault, Environment.ProcessId, 3));
    }
}
