namespace AsyncSendFd.Engine;

/// <summary>
/// The opt-in to run a woken call's continuation on the poller that woke it in every case, as .NET's own
/// <c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS</c> does for its sockets: the variable
/// <c>ASYNCSENDFD_INLINE_COMPLETIONS=1</c>, or the AppContext switch <c>AsyncSendFd.InlineCompletions</c>.
/// </summary>
/// <remarks>
/// A poller runs the last continuation of each batch of events itself (the others go to the thread pool). By default it
/// does so only while another poller waits on the kernel, or after starting one; with the switch on it does so without
/// starting another, so a continuation that blocks can then delay other sockets' wake-ups. It is off unless the
/// application says its continuations are short.
/// </remarks>
internal static class InlineCompletionsSwitch
{
    public const string EnvironmentVariable = "ASYNCSENDFD_INLINE_COMPLETIONS";

    public const string AppContextSwitch = "AsyncSendFd.InlineCompletions";

    public static bool IsEnabled =>
        (AppContext.TryGetSwitch(AppContextSwitch, out bool enabled) && enabled)
        || Environment.GetEnvironmentVariable(EnvironmentVariable) is "1" or "true";
}
