using System.IO.Compression;
using System.Xml.Linq;

namespace AsyncSendFd.IntegrationTests;

public class PackageTests
{
    private const string ConsumerProgram = """
        using System.Net.Sockets;
        using AsyncSendFd;
        using Microsoft.Win32.SafeHandles;
        using Darwin = AsyncSendFd.Native.Interop.Darwin.LibC;
        using Linux = AsyncSendFd.Native.Interop.Linux.LibC;

        #pragma warning disable CA1416 // Linux and macOS only, like the packages; the test runs on both.
        (Socket left, Socket right) = UnixSocketPair.Create();
        using (left)
        using (right)
        {
            string path = Path.GetTempFileName();
            File.WriteAllText(path, "passed through a package");
            using (SafeFileHandle file = File.OpenHandle(path))
            {
                await left.SendFdAsync(file);
            }

            File.Delete(path);
            using SafeFileHandle received = await right.ReceiveFdAsync();
            var buffer = new byte[64];
            int n = RandomAccess.Read(received, buffer, 0);
            Console.WriteLine("received: " + System.Text.Encoding.UTF8.GetString(buffer, 0, n));
            Console.WriteLine("peer pid matches: " + (right.GetPeerCredentials().ProcessId == Environment.ProcessId));

            // The interop package on its own: the layout of this platform's control messages.
            Console.WriteLine("CMSG_SPACE(4) = " + (OperatingSystem.IsMacOS() ? Darwin.CMSG_SPACE(4) : Linux.CMSG_SPACE(4)));
        }
        """;

    [Fact]
    public void Packages_RestoredFromALocalFolder_PassADescriptorInAFreshApp()
    {
        string root = Command.CreateTempDirectory("packages");
        try
        {
            string feed = Path.Combine(root, "feed");
            string version = $"0.0.1-test{DateTime.UtcNow:yyyyMMddHHmmss}";
            Command.DotNet(Command.RepositoryRoot, TimeSpan.FromMinutes(5),
                "pack", "AsyncSendFd.sln", "-c", "Release", "-o", feed, $"-p:Version={version}");

            AssertPackageIsComplete(Path.Combine(feed, $"AsyncSendFd.{version}.nupkg"), "AsyncSendFd");
            AssertPackageIsComplete(Path.Combine(feed, $"AsyncSendFd.Native.Interop.{version}.nupkg"), "AsyncSendFd.Native.Interop");
            AssertPackageIsComplete(Path.Combine(feed, $"AsyncSendFd.Hosting.{version}.nupkg"), "AsyncSendFd.Hosting");
            AssertPackageIsComplete(Path.Combine(feed, $"AsyncSendFd.Hosting.AspNetCore.{version}.nupkg"), "AsyncSendFd.Hosting.AspNetCore");

            // A consumer outside the repository: no project references, no Directory.Build.props, its own package cache.
            string app = Path.Combine(root, "consumer");
            Directory.CreateDirectory(app);
            File.WriteAllText(Path.Combine(app, "Consumer.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <ImplicitUsings>enable</ImplicitUsings>
                    <Nullable>enable</Nullable>
                    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
                    <RestorePackagesPath>{Path.Combine(root, "cache")}</RestorePackagesPath>
                  </PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="AsyncSendFd" Version="{version}" />
                    <PackageReference Include="AsyncSendFd.Native.Interop" Version="{version}" />
                  </ItemGroup>
                </Project>
                """);
            File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
                <configuration>
                  <packageSources>
                    <add key="local" value="{feed}" />
                  </packageSources>
                </configuration>
                """);
            File.WriteAllText(Path.Combine(app, "Program.cs"), ConsumerProgram);

            string output = Command.DotNet(app, TimeSpan.FromMinutes(5), "run", "-c", "Release");

            Assert.Contains("received: passed through a package", output);
            Assert.Contains("peer pid matches: True", output);
            // 64-bit Linux (x64, arm64): a 16-byte cmsghdr and 8-byte alignment; macOS: a 12-byte header, 4-byte alignment.
            Assert.Contains(OperatingSystem.IsMacOS() ? "CMSG_SPACE(4) = 16" : "CMSG_SPACE(4) = 24", output);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static void AssertPackageIsComplete(string nupkg, string id)
    {
        Assert.True(File.Exists(nupkg), $"{nupkg} was not produced");
        Assert.True(File.Exists(Path.ChangeExtension(nupkg, ".snupkg")), $"no symbol package beside {nupkg}");

        using ZipArchive package = ZipFile.OpenRead(nupkg);
        string[] entries = [.. package.Entries.Select(e => e.FullName)];
        Assert.Contains("README.md", entries);
        Assert.Contains($"lib/net10.0/{id}.dll", entries);
        Assert.Contains($"lib/net10.0/{id}.xml", entries);

        using Stream nuspecStream = package.GetEntry($"{id}.nuspec")!.Open();
        XElement metadata = XDocument.Load(nuspecStream).Root!.Elements().First(e => e.Name.LocalName == "metadata");
        string? Field(string name) => metadata.Elements().FirstOrDefault(e => e.Name.LocalName == name)?.Value;
        Assert.Equal("MIT", Field("license"));
        Assert.Equal("README.md", Field("readme"));
        Assert.False(string.IsNullOrWhiteSpace(Field("description")));
        XElement repository = metadata.Elements().Single(e => e.Name.LocalName == "repository");
        Assert.StartsWith("https://", repository.Attribute("url")?.Value);
        Assert.NotNull(repository.Attribute("commit"));
    }
}
