using System.Runtime.InteropServices;

namespace AsyncSendFd.IntegrationTests;

/// <summary>The tests that run the published sample: one collection, so that it is published once for all of them.</summary>
[CollectionDefinition(Name)]
public sealed class KestrelUpgradeCollection : ICollectionFixture<KestrelUpgradeFixture>
{
    public const string Name = "KestrelUpgrade sample";
}

/// <summary>The KestrelUpgrade sample published once with NativeAOT, warnings as errors, for every test that runs it.</summary>
public sealed class KestrelUpgradeFixture : IDisposable
{
    public KestrelUpgradeFixture()
    {
        Directory = Command.CreateTempDirectory("kestrelupgrade-aot");
        Command.DotNet(Command.RepositoryRoot, TimeSpan.FromMinutes(8),
            "publish", "samples/KestrelUpgrade/KestrelUpgrade.csproj", "-c", "Release", "-r", RuntimeInformation.RuntimeIdentifier,
            "-o", Directory, "-p:TreatWarningsAsErrors=true", "-p:IlcTreatWarningsAsErrors=true");
        Binary = Path.Combine(Directory, "KestrelUpgrade");
    }

    public string Directory { get; }

    public string Binary { get; }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
