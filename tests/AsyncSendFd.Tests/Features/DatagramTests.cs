using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Text;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Tests.Features;

/// <summary>Datagram sockets: sending to an explicit address (bound path, abstract name, nobody bound).</summary>
public class DatagramTests
{
    [Fact]
    public async Task SendFdsToAsync_ToABoundPath_DeliversDatagramAndDescriptors()
    {
        string path = Path.Combine(Path.GetTempPath(), $"asyncsendfd-dgram-{Guid.NewGuid():N}.sock");
        using var receiver = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        receiver.Bind(new UnixDomainSocketEndPoint(path));
        try
        {
            using var sender = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            using SafeFileHandle file = Descriptors.TempFile("to a path");

            await sender.SendFdsToAsync("hello"u8.ToArray(), new SafeHandle[] { file }, new UnixDomainSocketEndPoint(path));

            var data = new byte[16];
            var slots = new SafeFileHandle?[2];
            FdReceiveResult result = await receiver.ReceiveFdsAsync(data, slots);
            using SafeFileHandle received = slots[0]!;
            Assert.Equal(new FdReceiveResult(5, 1), result);
            Assert.Equal("hello", Encoding.ASCII.GetString(data, 0, 5));
            Assert.Equal("to a path", Descriptors.ReadAll(received));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [SupportedOSPlatform("linux")] // abstract address
    [LinuxFact]
    public void SendFdsTo_AnAbstractAddressWithEmptyData_DeliversTheDescriptors()
    {
        var address = new UnixDomainSocketEndPoint("\0asyncsendfd-" + Guid.NewGuid().ToString("N"));
        using var receiver = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        receiver.Bind(address);
        using var sender = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        using SafeFileHandle file = Descriptors.TempFile("abstract");

        sender.SendFdsTo([], [file], address);

        var slots = new SafeFileHandle?[1];
        FdReceiveResult result = receiver.ReceiveFds([], slots);
        using SafeFileHandle received = slots[0]!;
        Assert.Equal(new FdReceiveResult(0, 1), result);
        Assert.Equal("abstract", Descriptors.ReadAll(received));
    }

    [Fact]
    public void SendFdsTo_WhenNobodyIsBound_ThrowsSocketException()
    {
        using var sender = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        using SafeFileHandle file = Descriptors.TempFile();
        var nowhere = new UnixDomainSocketEndPoint(Path.Combine(Path.GetTempPath(), $"missing-{Guid.NewGuid():N}.sock"));

        Assert.Throws<SocketException>(() => sender.SendFdsTo("x"u8, [file], nowhere));
    }
}
