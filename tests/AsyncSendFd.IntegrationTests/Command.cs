using System.Diagnostics;
using System.Text;
using KestrelUpgrade.Driver;

namespace AsyncSendFd.IntegrationTests;

/// <summary>Runs a program to completion and captures what it printed.</summary>
internal static class Command
{
    /// <summary>How long a program's output may stay open after it exited: what it started and left running holds it.</summary>
    private static readonly TimeSpan OutputCloseTimeout = TimeSpan.FromSeconds(30);

    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public static (int ExitCode, string Output) Run(string fileName, IEnumerable<string> arguments, string workingDirectory, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // Child builds must not inherit the test host's MSBuild node settings.
        start.Environment.Remove("MSBuildExtensionsPath");
        start.Environment.Remove("MSBUILD_EXE_PATH");
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";

        // Whatever the program starts belongs to its lineage, so that a process it leaves running is found and killed,
        // not waited for: one holding the output open would keep it from ever closing.
        var lineage = new Lineage();
        lineage.Adopt(start);
        using var process = Process.Start(start)!;
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout))
        {
            string running = lineage.KillRunning();
            process.Kill(entireProcessTree: true); // where there is no /proc to find the lineage in
            throw new TimeoutException($"{fileName} {string.Join(' ', arguments)} ran over {timeout}. Killed:\n{running}\n{Printed(output)}");
        }

        using (var outputClosed = new CancellationTokenSource(OutputCloseTimeout))
        {
            try
            {
                process.WaitForExitAsync(outputClosed.Token).GetAwaiter().GetResult();
            }
            catch (OperationCanceledException)
            {
                string running = lineage.KillRunning();
                throw new InvalidOperationException(
                    $"{fileName} {string.Join(' ', arguments)} exited, but what it started still held its output {OutputCloseTimeout} later. Killed:\n{running}\n{Printed(output)}");
            }
        }

        return (process.ExitCode, Printed(output));
    }

    private static string Printed(StringBuilder output)
    {
        lock (output)
        {
            return output.ToString();
        }
    }

    public static string DotNet(string workingDirectory, TimeSpan timeout, params string[] arguments)
    {
        (int exitCode, string output) = Run("dotnet", arguments, workingDirectory, timeout);
        Assert.True(exitCode == 0, $"dotnet {string.Join(' ', arguments)} failed with {exitCode}:\n{output}");
        return output;
    }

    public static string CreateTempDirectory(string name)
    {
        string path = Path.Combine(Path.GetTempPath(), $"asyncsendfd-{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>
    /// A fresh directory for Unix sockets: /tmp plus a short unique name. A socket path must fit sun_path, 104 bytes on
    /// macOS (108 on Linux), and macOS's temp directory ($TMPDIR, /var/folders/xx/.../T/) already takes about 50 of them.
    /// </summary>
    public static string CreateSocketDirectory(string name)
    {
        string path = Path.Combine("/tmp", $"asf-{name}-{Guid.NewGuid().ToString("N")[..8]}");
        Directory.CreateDirectory(path);
        return path;
    }

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "AsyncSendFd.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("AsyncSendFd.sln not found above " + AppContext.BaseDirectory);
    }
}
