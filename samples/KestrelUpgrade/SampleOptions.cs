namespace KestrelUpgrade;

/// <summary>The sample's own options; everything else (e.g. --urls) goes to the web host.</summary>
internal sealed record SampleOptions
{
    public const string Usage = """
        KestrelUpgrade: an ASP.NET Core app that upgrades itself in place with no failed request.

        Usage:
          KestrelUpgrade [--urls URLS] [--pid-file PATH] [--upgrade-socket PATH] [--fail-if-exists PATH]
                                  serve GET / ("generation G pid P") and GET /slow?ms=N (the same after N ms)
                                  until SIGTERM; SIGHUP to the process named in the PID file starts an upgrade
                                  to a copy of this program (same arguments)
          KestrelUpgrade --upgrade [--pid-file PATH | --upgrade-socket PATH]
                                  ask the serving generation for an upgrade and wait for the outcome: exit code 0
                                  once the new generation serves, 1 with the reason otherwise
          KestrelUpgrade --demo   drive load at a fresh server with clients that never retry, upgrade it, refuse
                                  a broken release, upgrade it again (a 2 s request in flight each time), then
                                  print who served how many requests and how many failed

        Options:
          --urls URLS             where to listen (standard ASP.NET Core; default http://localhost:5000)
          --pid-file PATH         the serving generation's PID file, rewritten atomically by each new generation
          --upgrade-socket PATH   the control socket successors connect to (default: beside the PID file,
                                  else kestrelupgrade-UID.sock in the temp directory)
          --fail-if-exists PATH   a new generation that finds PATH exits with code 1 before it is ready
                                  (a broken release); the first generation ignores it
          --help                  show this text
        """;

    public string? PidFile { get; init; }

    public string? UpgradeSocket { get; init; }

    public string? FailIfExists { get; init; }

    public bool Demo { get; init; }

    public bool Upgrade { get; init; }

    public bool ShowHelp { get; init; }

    public string[] HostArguments { get; init; } = [];

    public string ControlSocketPath => UpgradeSocket
        ?? (PidFile is { } pid ? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(pid))!, "kestrelupgrade.sock")
            : Path.Combine(Path.GetTempPath(), $"kestrelupgrade-{AsyncSendFd.Native.Interop.Unix.LibC.getuid()}.sock"));

    public static SampleOptions Parse(string[] args)
    {
        var options = new SampleOptions();
        var host = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--pid-file": options = options with { PidFile = Value() }; break;
                case "--upgrade-socket": options = options with { UpgradeSocket = Value() }; break;
                case "--fail-if-exists": options = options with { FailIfExists = Value() }; break;
                case "--demo": options = options with { Demo = true }; break;
                case "--upgrade": options = options with { Upgrade = true }; break;
                case "--help" or "-h": options = options with { ShowHelp = true }; break;
                case "--urls": host.Add("--urls"); host.Add(Value()); break;
                default: throw new ArgumentException($"Unknown option {args[i]}.");
            }
        }

        return options with { HostArguments = [.. host] };
    }
}
