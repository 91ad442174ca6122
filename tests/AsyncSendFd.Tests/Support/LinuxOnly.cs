using System.Reflection;

namespace AsyncSendFd.Tests.Support;

/// <summary>
/// Marks what only Linux has (SO_PEERPIDFD, SO_PASSCRED, MSG_CMSG_CLOEXEC, /proc, seqpacket and abstract addresses for
/// Unix sockets, epoll, the C headers the layouts are checked against, the kernel's own limits). Such a test is a
/// <see cref="LinuxFactAttribute"/> or <see cref="LinuxTheoryAttribute"/> (a row: <see cref="LinuxInlineDataAttribute"/>),
/// reported skipped elsewhere, and its method or class is <c>[SupportedOSPlatform("linux")]</c> so the platform analyzer
/// checks that nothing running on macOS calls Linux-only code.
/// </summary>
internal static class LinuxOnly
{
    public const string Reason = "Linux only";

    public static string? SkipUnlessLinux => OperatingSystem.IsLinux() ? null : Reason;
}

/// <summary>A fact that runs on Linux and is reported skipped elsewhere. See <see cref="LinuxOnly"/>.</summary>
public sealed class LinuxFactAttribute : FactAttribute
{
    public LinuxFactAttribute() => Skip = LinuxOnly.SkipUnlessLinux;
}

/// <summary>A theory that runs on Linux and is reported skipped elsewhere. See <see cref="LinuxOnly"/>.</summary>
public sealed class LinuxTheoryAttribute : TheoryAttribute
{
    public LinuxTheoryAttribute() => Skip = LinuxOnly.SkipUnlessLinux;
}

/// <summary>
/// An inline row that runs on Linux and is reported skipped elsewhere: a seqpacket row, for one, since macOS has no
/// seqpacket Unix sockets. The test itself may run everywhere.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
public sealed class LinuxInlineDataAttribute : Xunit.Sdk.DataAttribute
{
    private readonly object?[] _data;

    public LinuxInlineDataAttribute(params object?[] data)
    {
        _data = data;
        Skip = LinuxOnly.SkipUnlessLinux;
    }

    public override IEnumerable<object?[]> GetData(MethodInfo testMethod) => [_data];
}
