using System.Net;

namespace HandOff;

/// <summary>Command-line options of the hand-off daemon.</summary>
internal sealed record HandOffOptions
{
    public const string Usage = """
        HandOff: a TCP server that hands its listening socket to a successor process with zero downtime.

        Usage:
          HandOff [options]                      run the whole demonstration on loopback
          HandOff --serve [--listen ADDRESS:PORT] [--fd-store]
                                                 serve until SIGTERM, as a daemon would; under systemd the
                                                 listener comes from LISTEN_FDS when one named "listener" is
                                                 passed (socket activation or the fd store)
          HandOff --successor --control-socket PATH
                                                 run as the successor: take over the listening socket
                                                 from the process serving on PATH, and serve until it hangs up

        Options:
          --listen ADDRESS:PORT      where the first generation listens (default 127.0.0.1:0, any free port)
          --control-socket PATH      the Unix socket the running server hands its listener over
                                     (default: a fresh path in the temp directory)
          --successor-command CMD    how to start the successor; it is given
                                     "--successor --control-socket PATH" (default: this program again)
          --fd-store                 keep the listener in systemd's fd store (FileDescriptorStoreMax=1),
                                     so that a restart of the service takes it back: another hand-off
          --seconds N                how long to serve before and after the hand-off (default 1.5)
          --help                     show this text
        """;

    public IPEndPoint Listen { get; init; } = new(IPAddress.Loopback, 0);

    public string ControlSocket { get; init; } = Path.Combine(Path.GetTempPath(), $"handoff-{Environment.ProcessId}.sock");

    public string? SuccessorCommand { get; init; }

    public TimeSpan Phase { get; init; } = TimeSpan.FromSeconds(1.5);

    public bool IsSuccessor { get; init; }

    public bool Serve { get; init; }

    public bool UseFdStore { get; init; }

    public bool ShowHelp { get; init; }

    public static HandOffOptions Parse(string[] args)
    {
        var options = new HandOffOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            options = args[i] switch
            {
                "--listen" => options with { Listen = IPEndPoint.Parse(Value()) },
                "--control-socket" => options with { ControlSocket = Value() },
                "--successor-command" => options with { SuccessorCommand = Value() },
                "--seconds" => options with { Phase = TimeSpan.FromSeconds(double.Parse(Value(), System.Globalization.CultureInfo.InvariantCulture)) },
                "--successor" => options with { IsSuccessor = true },
                "--serve" => options with { Serve = true },
                "--fd-store" => options with { UseFdStore = true },
                "--help" or "-h" => options with { ShowHelp = true },
                _ => throw new ArgumentException($"Unknown option {args[i]}."),
            };
        }

        return options;
    }
}
