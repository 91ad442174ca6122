using System.Diagnostics;

namespace AsyncSendFd.Hosting;

/// <summary>How a process hands over to its successor, and how it takes over from its predecessor.</summary>
public sealed class UpgradeOptions
{
    /// <summary>
    /// The configuration section <c>UseZeroDowntimeUpgrades</c> reads: <c>Upgrades:SocketPath</c>, <c>Upgrades:PidFile</c>,
    /// <c>Upgrades:TokenFile</c>, <c>Upgrades:ReadyTimeout</c>, <c>Upgrades:RetiredExitDeadline</c> (as <c>00:01:00</c>),
    /// <c>Upgrades:UpgradeOnSighup</c> and <c>Upgrades:AllowedUserIds:0</c>, <c>:1</c>, ... The callbacks are set in code.
    /// </summary>
    public const string ConfigurationSectionName = "Upgrades";

    /// <summary>
    /// The control socket: the serving generation listens here, a starting process connects here to take over.
    /// Every generation must be given the same path. Put it in a directory only the service's user can write
    /// (e.g. <c>/run/myapp/upgrade.sock</c> with <c>RuntimeDirectory=myapp</c>): the path is the door, the
    /// credential check the lock.
    /// </summary>
    public string SocketPath { get; set; } = "";

    /// <summary>
    /// Where the serving generation's process id is written (atomically: a temporary file, then a rename) each
    /// time a generation becomes ready; <see langword="null"/> for none. Point systemd's <c>PIDFile=</c> here.
    /// </summary>
    public string? PidFile { get; set; }

    /// <summary>How long a successor may take from being started (or connecting) to being ready; one minute by default, as tableflip.</summary>
    public TimeSpan ReadyTimeout { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Whether SIGHUP starts an upgrade (<c>ExecReload=kill -HUP $MAINPID</c>); on by default.</summary>
    public bool UpgradeOnSighup { get; set; } = true;

    /// <summary>
    /// User ids, besides this process's own, whose processes may take over. Empty by default: only the same
    /// user. The kernel reports the connecting process's uid (<c>SO_PEERCRED</c>); nothing the successor says counts.
    /// </summary>
    public ISet<uint> AllowedUserIds { get; } = new HashSet<uint>();

    /// <summary>
    /// Replaces the user-id check with your own policy (e.g. on the group id); it gets the kernel's credentials of the
    /// connecting process and returns whether it may take over. <see langword="null"/> (the default) checks the uid.
    /// </summary>
    public Func<UnixPeerCredentials, bool>? AuthorizeSuccessor { get; set; }

    /// <summary>
    /// Where the serving generation keeps a one-time upgrade token for successors it does not start itself (a
    /// supervisor, another unit); <see langword="null"/> (the default) for none, so that only a successor this
    /// generation started may take over. When set, the serving generation writes a fresh token there (a file only
    /// its user may read, e.g. <c>/run/myapp/upgrade.token</c>) when it starts serving and each time one is used,
    /// and a starting process that was not handed a token by its parent reads it from there. Every generation must
    /// be given the same path.
    /// </summary>
    public string? TokenFile { get; set; }

    /// <summary>
    /// How to start the successor for <see cref="Upgrader.UpgradeAsync"/>; by default this executable again with the
    /// same arguments (<c>dotnet app.dll</c> included), inheriting the environment, standard output and error.
    /// </summary>
    public Func<ProcessStartInfo>? SuccessorStartInfo { get; set; }

    /// <summary>
    /// Called in the serving generation at hand-over: the opaque state given to the successor
    /// (<see cref="Upgrader.InheritedState"/>). <see langword="null"/> passes no state.
    /// </summary>
    public Func<ReadOnlyMemory<byte>>? SaveState { get; set; }

    /// <summary>
    /// After handing over, how long a retired generation may take to stop before it is killed, so that no old code
    /// keeps running; <see langword="null"/> (the default) allows the host's <c>HostOptions.ShutdownTimeout</c> (30
    /// seconds unless set) plus 10 seconds. Applies under the Generic Host; without one, the caller stops the process.
    /// </summary>
    public TimeSpan? RetiredExitDeadline { get; set; }

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(SocketPath))
        {
            throw new ArgumentException(
                $"UpgradeOptions.SocketPath must name the control socket (in code, or as {ConfigurationSectionName}:{nameof(SocketPath)} in the configuration).",
                nameof(SocketPath));
        }

        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ReadyTimeout, TimeSpan.Zero, nameof(ReadyTimeout));
    }
}
