using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace AsyncSendFd.IntegrationTests;

public partial class NativeAotHandOffTests
{
    [Fact]
    public void HandOffSample_PublishedWithNativeAot_HandsTheListenerOverWithNoFailedRequest()
    {
        string output = Command.CreateTempDirectory("handoff-aot");
        try
        {
            // Warnings as errors: any trim, AOT or single-file warning from either library fails the publish.
            Command.DotNet(Command.RepositoryRoot, TimeSpan.FromMinutes(8),
                "publish", "samples/HandOff/HandOff.csproj", "-c", "Release", "-r", RuntimeInformation.RuntimeIdentifier,
                "-o", output, "-p:TreatWarningsAsErrors=true", "-p:IlcTreatWarningsAsErrors=true");
            string binary = Path.Combine(output, "HandOff");
            Assert.True(File.Exists(binary), "the native binary was not produced");
            Assert.False(File.Exists(Path.Combine(output, "HandOff.dll")), "the publish was not native: HandOff.dll is present");

            (int exitCode, string log) = Command.Run(binary, ["--seconds", "1"], output, TimeSpan.FromMinutes(2));

            Assert.True(exitCode == 0, $"the hand-off failed:\n{log}");
            Match first = FirstGeneration().Match(log);
            Match second = SecondGeneration().Match(log);
            Assert.True(first.Success && second.Success, log);
            Assert.NotEqual(first.Groups["pid"].Value, second.Groups["pid"].Value);
            Assert.True(int.Parse(first.Groups["count"].Value) > 0, log);
            Assert.True(int.Parse(second.Groups["count"].Value) > 0, "the successor process served nothing: the listener did not cross processes\n" + log);
            Assert.Contains("failed requests: 0", log);
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

    [GeneratedRegex(@"served by generation 1 \(pid (?<pid>\d+)\): (?<count>\d+)")]
    private static partial Regex FirstGeneration();

    [GeneratedRegex(@"served by generation 2 \(pid (?<pid>\d+)\): (?<count>\d+)")]
    private static partial Regex SecondGeneration();
}
