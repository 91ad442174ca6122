using Microsoft.Extensions.Logging;

namespace AsyncSendFd.Hosting.Internal;

/// <summary>Every message the upgrader logs, generated at compile time (no boxing, AOT-safe).</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Generation {Generation} (pid {ProcessId}) is the first: listening for successors on {SocketPath}")]
    public static partial void FirstGeneration(ILogger logger, int generation, int processId, string socketPath);

    [LoggerMessage(2, LogLevel.Information, "Generation {Generation} (pid {ProcessId}) took over from pid {ParentProcessId}: {Count} descriptors ({Names}), {StateLength} bytes of state")]
    public static partial void TookOver(ILogger logger, int generation, int processId, int parentProcessId, int count, string names, int stateLength);

    [LoggerMessage(3, LogLevel.Information, "Generation {Generation} (pid {ProcessId}) is serving")]
    public static partial void Serving(ILogger logger, int generation, int processId);

    [LoggerMessage(4, LogLevel.Information, "Upgrade requested ({Trigger}): starting a successor")]
    public static partial void UpgradeRequested(ILogger logger, string trigger);

    [LoggerMessage(5, LogLevel.Information, "Successor pid {ProcessId} (uid {UserId}) connected; handing over {Count} descriptors ({Names}) and {StateLength} bytes of state")]
    public static partial void HandingOver(ILogger logger, int processId, uint userId, int count, string names, int stateLength);

    [LoggerMessage(6, LogLevel.Information, "Upgrade succeeded: successor pid {ProcessId} is ready; generation {Generation} retires and drains")]
    public static partial void Retiring(ILogger logger, int processId, int generation);

    [LoggerMessage(7, LogLevel.Warning, "Upgrade failed, this generation keeps serving: {Reason}")]
    public static partial void UpgradeFailed(ILogger logger, string reason);

    [LoggerMessage(8, LogLevel.Warning, "Refused successor pid {ProcessId} (uid {UserId}, gid {GroupId}): not an allowed user")]
    public static partial void RefusedCredentials(ILogger logger, int processId, uint userId, uint groupId);

    [LoggerMessage(9, LogLevel.Information, "The previous generation (pid {ProcessId}) has exited")]
    public static partial void PreviousExited(ILogger logger, int processId);

    [LoggerMessage(10, LogLevel.Warning, "The previous generation (pid {ProcessId}) went away before committing; serving on our own")]
    public static partial void PreviousVanished(ILogger logger, int processId);

    [LoggerMessage(11, LogLevel.Error, "The serving generation abandoned this successor: {Reason}")]
    public static partial void Abandoned(ILogger logger, string reason);

    [LoggerMessage(12, LogLevel.Warning, "Could not talk to systemd: {Reason}")]
    public static partial void NotifyFailed(ILogger logger, string reason);

    [LoggerMessage(13, LogLevel.Error, "Retired generation did not stop within {Deadline}; killing this process so that no old code keeps running")]
    public static partial void ForcedExit(ILogger logger, TimeSpan deadline);

    [LoggerMessage(14, LogLevel.Warning, "Control connection failed: {Reason}")]
    public static partial void ControlConnectionFailed(ILogger logger, string reason);

    [LoggerMessage(15, LogLevel.Information, "Successor pid {ProcessId} connected on its own (this generation did not start it)")]
    public static partial void SuccessorConnected(ILogger logger, int processId);

    [LoggerMessage(16, LogLevel.Warning, "Upgrades will be refused: {Reason}")]
    public static partial void UpgradesRefusedAsPid1(ILogger logger, string reason);

    [LoggerMessage(17, LogLevel.Information, "Retired: stopping gracefully; killed if still running {Deadline} from now")]
    public static partial void RetiredStopping(ILogger logger, TimeSpan deadline);

    [LoggerMessage(18, LogLevel.Warning, "Inherited descriptor '{Name}' was not adopted by this generation (no longer configured?); closing it")]
    public static partial void NotAdopted(ILogger logger, string name);

    [LoggerMessage(19, LogLevel.Warning, "Upgrade failed: {Reason}")]
    public static partial void UpgradeFailedNotServing(ILogger logger, string reason);
}
