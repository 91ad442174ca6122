namespace AsyncSendFd.Engine;

/// <summary>
/// The opt-in to keep a continuation on the poller that woke it however long it runs, as .NET's own
/// <c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS</c> does for its sockets: the variable
/// <c>ASYNCSENDFD_INLINE_COMPLETIONS=1</c>, or the AppContext switch <c>AsyncSendFd.InlineCompletions</c>.
/// </summary>
/// <remarks>
/// A poller runs the last continuation of each batch of events itself either way. By default the
/// <see cref="ContinuationWatchdog"/> hands the kernel's wait to another poller when that continuation blocks or runs
/// long; with the switch on there is no watchdog, so only a blocking call of this library hands it off. A continuation
/// that sleeps or computes delays other sockets' wake-ups, and one that blocks on another async call of this library
/// (sync over async) never wakes, since only the wait it holds could complete that call. It saves the watchdog's tick
/// and nothing more.
/// </remarks>
internal static class InlineCompletionsSwitch
{
    public const string EnvironmentVariable = "ASYNCSENDFD_INLINE_COMPLETIONS";

    public const string AppContextSwitch = "AsyncSendFd.InlineCompletions";

    public static bool IsEnabled =>
        (AppContext.TryGetSwitch(AppContextSwitch, out bool enabled) && enabled)
        || Environment.GetEnvironmentVariable(EnvironmentVariable) is "1" or "true";
}
