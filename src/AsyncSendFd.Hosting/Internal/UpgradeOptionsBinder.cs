using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace AsyncSendFd.Hosting.Internal;

/// <summary>
/// Binds <see cref="UpgradeOptions"/> from a configuration section by hand, key by key: no reflection, so it stays
/// trim- and NativeAOT-safe. Values parse as the configuration binder parses them (invariant culture); the callbacks
/// (<see cref="UpgradeOptions.SaveState"/> and the others) can only be set in code.
/// </summary>
internal static class UpgradeOptionsBinder
{
    public static void Bind(IConfigurationSection section, UpgradeOptions options)
    {
        if (section[nameof(UpgradeOptions.SocketPath)] is { } socketPath)
        {
            options.SocketPath = socketPath;
        }

        if (section[nameof(UpgradeOptions.PidFile)] is { } pidFile)
        {
            options.PidFile = pidFile.Length == 0 ? null : pidFile;
        }

        if (section[nameof(UpgradeOptions.TokenFile)] is { } tokenFile)
        {
            options.TokenFile = tokenFile.Length == 0 ? null : tokenFile;
        }

        if (Parse(section, nameof(UpgradeOptions.ReadyTimeout), ParseTimeSpan) is { } readyTimeout)
        {
            options.ReadyTimeout = readyTimeout;
        }

        if (Parse(section, nameof(UpgradeOptions.RetiredExitDeadline), ParseTimeSpan) is { } exitDeadline)
        {
            options.RetiredExitDeadline = exitDeadline;
        }

        if (Parse(section, nameof(UpgradeOptions.UpgradeOnSighup), static v => bool.TryParse(v, out bool b) ? b : (bool?)null) is { } sighup)
        {
            options.UpgradeOnSighup = sighup;
        }

        // An array, as the binder reads one: children "0", "1", ... under the key.
        foreach (IConfigurationSection userId in section.GetSection(nameof(UpgradeOptions.AllowedUserIds)).GetChildren())
        {
            if (Parse(userId, static v => uint.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out uint id) ? id : (uint?)null) is { } id)
            {
                options.AllowedUserIds.Add(id);
            }
        }
    }

    private static TimeSpan? ParseTimeSpan(string value) =>
        TimeSpan.TryParse(value, CultureInfo.InvariantCulture, out TimeSpan span) ? span : null;

    private static T? Parse<T>(IConfigurationSection section, string key, Func<string, T?> parse)
        where T : struct => Parse(section.GetSection(key), parse);

    /// <exception cref="InvalidOperationException">The value does not parse; the message names its path.</exception>
    private static T? Parse<T>(IConfigurationSection entry, Func<string, T?> parse)
        where T : struct
    {
        if (string.IsNullOrEmpty(entry.Value))
        {
            return null;
        }

        return parse(entry.Value) ?? throw new InvalidOperationException(
            $"Failed to convert configuration value '{entry.Value}' at '{entry.Path}' to type '{typeof(T).Name}'.");
    }
}
