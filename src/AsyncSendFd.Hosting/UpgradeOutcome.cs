namespace AsyncSendFd.Hosting;

/// <summary>How an upgrade ended, one value per way it can end (<see cref="UpgradeResult.Outcome"/>).</summary>
/// <remarks>
/// Only <see cref="Succeeded"/> changes anything: after every other outcome the serving generation keeps serving,
/// keeps its descriptors, and the next upgrade can be tried.
/// </remarks>
public enum UpgradeOutcome
{
    /// <summary>The successor is ready and serves; this generation has retired.</summary>
    Succeeded,

    /// <summary>Another upgrade was running; nothing was started.</summary>
    AlreadyInProgress,

    /// <summary>This generation does not serve (not ready yet, retired or stopped); nothing was started.</summary>
    NotServing,

    /// <summary>This generation took over recently and its predecessor has not exited yet; nothing was started.</summary>
    PreviousGenerationDraining,

    /// <summary>
    /// This process is PID 1 (a container's main process): retiring it would end the container, so upgrades are
    /// refused. Run the service under a supervisor that outlives generations.
    /// </summary>
    RunningAsPid1,

    /// <summary>The host began to stop during the upgrade: the stop wins, the successor is told to exit (and killed if it is this generation's child and does not).</summary>
    Stopping,

    /// <summary>The caller's cancellation token abandoned the upgrade; the successor is told to exit as for <see cref="Stopping"/>.</summary>
    Canceled,

    /// <summary>The successor process could not be started.</summary>
    SuccessorDidNotStart,

    /// <summary>The successor was started but did not connect to the control socket within the ready timeout (it was killed).</summary>
    SuccessorDidNotConnect,

    /// <summary>The successor exited (or hung up) before it was ready, or at the commit.</summary>
    SuccessorExited,

    /// <summary>The successor connected but was not ready within the ready timeout; it was told to exit (and killed if it is this generation's child).</summary>
    NotReadyInTime,

    /// <summary>The kernel's credentials of the connecting process (<c>SO_PEERCRED</c>) are not allowed to take over.</summary>
    CredentialsRefused,

    /// <summary>The connecting process presented no valid one-time upgrade token: this generation did not start it, nor give it the token.</summary>
    TokenRefused,

    /// <summary>The connecting process broke the upgrade protocol (not a hello of this version, or anything but Ready after the offer).</summary>
    ProtocolViolation,

    /// <summary>The hand-over itself failed (the connection broke, or too many descriptors are shared to fit one message).</summary>
    HandOverFailed,
}
