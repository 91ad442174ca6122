using AsyncSendFd.Hosting;
using KestrelUpgrade;

SampleOptions options;
try
{
    options = SampleOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    Console.Error.WriteLine(SampleOptions.Usage);
    return 2;
}

if (options.ShowHelp)
{
    Console.WriteLine(SampleOptions.Usage);
    return 0;
}

if (options.Demo)
{
    return await Demo.RunAsync();
}

if (options.Upgrade)
{
    return await UpgradeCommand.RunAsync(options.ControlSocketPath);
}

WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(options.HostArguments);
builder.Logging.AddSimpleConsole(console =>
{
    console.SingleLine = true;
    console.TimestampFormat = "HH:mm:ss.fff ";
});
builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);

// The three lines a service adds for zero-downtime upgrades (with the usings above).
builder.Host.UseZeroDowntimeUpgrades(upgrades =>
{
    upgrades.SocketPath = options.ControlSocketPath;
    upgrades.PidFile = options.PidFile;
});
builder.WebHost.UseUpgradableListeners();

if (options.FailIfExists is { } marker)
{
    builder.Services.AddHostedService(services => new BrokenReleaseCheck(services.GetRequiredService<Upgrader>(), marker));
}

WebApplication app = builder.Build();
Upgrader upgrader = app.Services.GetRequiredService<Upgrader>();
string Answer() => $"generation {upgrader.Generation} pid {Environment.ProcessId}";
app.MapGet("/", Answer);

// The same answer after ms milliseconds: a request held in flight across an upgrade.
app.MapGet("/slow", async (int ms, CancellationToken aborted) =>
{
    if (ms is < 0 or > 60_000)
    {
        return Results.BadRequest("ms must be 0 to 60000");
    }

    await Task.Delay(ms, aborted);
    return Results.Text(Answer());
});

try
{
    await app.RunAsync();
}
catch (Exception e) when (e is InvalidOperationException or IOException or TimeoutException or System.Net.Sockets.SocketException)
{
    // A successor that could not take over, or a broken release: the serving generation carries on.
    Console.Error.WriteLine($"[pid {Environment.ProcessId}] not started: {e.Message}");
    return 1;
}

return Environment.ExitCode;
