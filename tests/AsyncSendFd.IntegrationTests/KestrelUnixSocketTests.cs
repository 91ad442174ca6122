using System.Runtime.Versioning;
using AsyncSendFd.IntegrationTests.Support;
using KestrelUpgrade.Driver;
using Xunit.Abstractions;

namespace AsyncSendFd.IntegrationTests;

/// <summary>
/// A Kestrel Unix-domain-socket endpoint (<c>--urls http://unix:PATH</c>, as behind nginx) handed over like a TCP one:
/// the socket file is never unlinked and bound again, and is removed only when the last generation stops for good.
/// </summary>
[Collection(KestrelUpgradeCollection.Name)]
public sealed class KestrelUnixSocketTests(KestrelUpgradeFixture sample, ITestOutputHelper output)
{
    // Linux only: Signals.IsRunning reads /proc (KestrelUpgradeTests' remarks), and stat -c is GNU's.
    [LinuxFact(KestrelUpgradeTests.Driver)]
    [SupportedOSPlatform("linux")]
    public async Task UnixSocketEndpoint_UnderLoad_IsHandedOver_AndItsFileRemovedOnlyByTheLastGeneration()
    {
        using UpgradingServer server = await UpgradingServer.StartAsync(sample.Binary, output, unixSocket: true);
        string inode = Inode(server.UnixSocket);
        var load = new HttpLoad(server.UnixEndPoint);
        load.Start();
        await Task.Delay(TimeSpan.FromSeconds(1));

        for (int generation = 2; generation <= 3; generation++)
        {
            int pid = await server.UpgradeAsync();

            // The same socket file (same inode): the successor adopted the listener, nobody unlinked it or bound anew.
            Assert.True(File.Exists(server.UnixSocket), $"the socket file is gone after upgrade {generation - 1}");
            Assert.Equal(inode, Inode(server.UnixSocket));
            Assert.Equal($"generation {generation} pid {pid}", await server.GetAsync(server.UnixEndPoint));
            Assert.Equal($"generation {generation} pid {pid}", await server.GetAsync());
            await Task.Delay(TimeSpan.FromSeconds(1));
        }

        await load.StopAsync();
        var report = new LoadReport(load.Samples, server.Upgrades);
        foreach (string line in report.Lines())
        {
            output.WriteLine(line);
        }

        Assert.Empty(report.Failures);
        Assert.Equal([1, 2, 3], report.ServedBy.Select(s => s.Generation));
        Assert.True(report.SlowRequestsAcrossEveryUpgradeAnswered, "an upgrade had no 2 s request in flight across it, or one was not answered by the retiring generation");

        await server.StopAsync();
        Assert.False(File.Exists(server.UnixSocket), "the last generation left its socket file behind");
    }

    private static string Inode(string path)
    {
        (int exitCode, string text) = Command.Run("stat", ["-c", "%i", path], "/", TimeSpan.FromSeconds(10));
        Assert.True(exitCode == 0, text);
        return text.Trim();
    }
}
