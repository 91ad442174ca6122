using System.Globalization;
using AsyncSendFd.Hosting.Tests.Support;
using static AsyncSendFd.Hosting.Tests.Support.Timeouts;

namespace AsyncSendFd.Hosting.Tests;

/// <summary>
/// The PID file is replaced whole (a temporary file renamed over it), written when a generation is ready, and removed
/// only by the generation it names when that one stops for good.
/// </summary>
public sealed class PidFileTests
{
    private static readonly string Self = Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n";

    [Fact]
    public async Task EachReadyGeneration_RenamesAWholeFileOverThePidFile_NamingTheServingProcess()
    {
        FileStream? stale = null;
        await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady, options =>
        {
            options.PidFile = Path.Combine(Path.GetDirectoryName(options.SocketPath)!, "app.pid");
            File.WriteAllText(options.PidFile, "stale\n");
            stale = OpenShared(options.PidFile);
        });
        string pidFile = serving.PidPath;
        using (stale)
        {
            Assert.Equal(Self, File.ReadAllText(pidFile));

            // The file that was there is untouched: a rename replaced it; writing in place would show through this handle.
            Assert.Equal("stale\n", ReadFromStart(stale!));
        }

        Assert.Equal(["app.pid", "upgrade.sock", "upgrade.token"], Entries(serving.Directory)); // no temporary file left behind

        // A successor writes it only once ready. (Both generations share this pid, so mark the file to tell the writes apart.)
        File.WriteAllText(pidFile, "1\n");
        Upgrader next = serving.NewSuccessor(pidFile: pidFile);
        await next.StartAsync();
        Assert.Equal("1\n", File.ReadAllText(pidFile));
        using (FileStream marked = OpenShared(pidFile))
        {
            await next.ReadyAsync().WaitAsync(Guard);
            Assert.Equal(Self, File.ReadAllText(pidFile));
            Assert.Equal("1\n", ReadFromStart(marked));
        }

        Assert.Equal(["app.pid", "upgrade.sock", "upgrade.token"], Entries(serving.Directory));

        // The retired generation leaves it to the one serving; the serving one, stopping for good, removes it.
        await serving.Upgrader.DisposeAsync();
        Assert.Equal(Self, File.ReadAllText(pidFile));
        await next.DisposeAsync();
        Assert.False(File.Exists(pidFile));
    }

    [Fact]
    public async Task AGenerationStoppingForGood_LeavesAPidFileThatNamesAnotherProcess()
    {
        await using ServingGeneration serving = await ServingGeneration.StartAsync(AmpleReady, options =>
            options.PidFile = Path.Combine(Path.GetDirectoryName(options.SocketPath)!, "app.pid"));
        Assert.Equal(Self, File.ReadAllText(serving.PidPath));

        File.WriteAllText(serving.PidPath, "1\n"); // as if another process served now
        await serving.Upgrader.DisposeAsync();
        Assert.Equal("1\n", File.ReadAllText(serving.PidPath));
        Assert.False(File.Exists(serving.SocketPath));
    }

    private static FileStream OpenShared(string path) =>
        new(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);

    private static string ReadFromStart(FileStream stream)
    {
        stream.Position = 0;
        using var reader = new StreamReader(stream, leaveOpen: true);
        return reader.ReadToEnd();
    }

    private static string[] Entries(string directory) => [.. Directory.GetFileSystemEntries(directory).Select(Path.GetFileName).Order(StringComparer.Ordinal)!];
}
