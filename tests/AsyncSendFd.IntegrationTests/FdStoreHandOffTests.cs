namespace AsyncSendFd.IntegrationTests;

public class FdStoreHandOffTests
{
    [Fact]
    public void HandOffSample_RestartedByAServiceManager_TakesItsListenerBackFromTheFdStore()
    {
        string output = Command.CreateTempDirectory("handoff-fdstore");
        try
        {
            Command.DotNet(Command.RepositoryRoot, TimeSpan.FromMinutes(5),
                "build", "samples/HandOff/HandOff.csproj", "-c", "Release", "-o", output);

            // fake_systemd.py plays systemd: $NOTIFY_SOCKET, the fd store, and a restart with LISTEN_FDS.
            (int exitCode, string log) = Command.Run(
                "python3", [Path.Combine(AppContext.BaseDirectory, "fake_systemd.py"), Path.Combine(output, "HandOff")],
                output, TimeSpan.FromMinutes(2));

            Assert.True(exitCode == 0, log);
            Assert.Contains("took the listener on", log);
            Assert.Contains("fd store hand-off: ok", log);
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }
}
