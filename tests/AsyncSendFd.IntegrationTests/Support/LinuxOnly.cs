namespace AsyncSendFd.IntegrationTests.Support;

/// <summary>
/// Marks an integration test that cannot run off Linux (the unit tests' pattern, tests/AsyncSendFd.Tests/Support/LinuxOnly.cs):
/// a <see cref="LinuxFactAttribute"/> runs on Linux and is reported skipped elsewhere, with why in the skip message; its method
/// is also <c>[SupportedOSPlatform("linux")]</c>. Each use says in a comment why it is Linux only.
/// </summary>
internal static class LinuxOnly
{
    public const string Reason = "Linux only";

    public static string? SkipUnlessLinux(string? why) =>
        OperatingSystem.IsLinux() ? null : why is null ? Reason : $"{Reason}: {why}";
}

/// <summary>A fact that runs on Linux and is reported skipped elsewhere, with <c>why</c> in the skip message.</summary>
public sealed class LinuxFactAttribute : FactAttribute
{
    public LinuxFactAttribute(string? why = null) => Skip = LinuxOnly.SkipUnlessLinux(why);
}

/// <summary>
/// A fact that runs only as root on Linux with util-linux's <c>/usr/bin/setpriv</c>, to start a process as another user;
/// reported skipped elsewhere (macOS, or a CI runner that is not root, such as GitHub's <c>runner</c> user).
/// </summary>
public sealed class RootWithSetprivFactAttribute : FactAttribute
{
    public const string Setpriv = "/usr/bin/setpriv";

    public RootWithSetprivFactAttribute() => Skip = SkipReason();

    private static string? SkipReason()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "Linux only: needs util-linux's setpriv to run a process as another uid";
        }

        return Environment.UserName == "root" && File.Exists(Setpriv)
            ? null
            : $"needs root and {Setpriv} to run a process as another uid (running as {Environment.UserName})";
    }
}
