namespace AsyncSendFd.Engine;

/// <summary>
/// The opt-in to run async continuations on the readiness thread, as .NET's own
/// <c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS</c> does for its sockets: the variable
/// <c>ASYNCSENDFD_INLINE_COMPLETIONS=1</c>, or the AppContext switch <c>AsyncSendFd.InlineCompletions</c>.
/// </summary>
/// <remarks>
/// It saves the hand-off to a thread-pool thread on every wake-up, but a continuation that runs long or blocks then
/// delays every other socket's wake-up; so it is off unless the application says its continuations are short.
/// </remarks>
internal static class InlineCompletionsSwitch
{
    public const string EnvironmentVariable = "ASYNCSENDFD_INLINE_COMPLETIONS";

    public const string AppContextSwitch = "AsyncSendFd.InlineCompletions";

    public static bool IsEnabled =>
        (AppContext.TryGetSwitch(AppContextSwitch, out bool enabled) && enabled)
        || Environment.GetEnvironmentVariable(EnvironmentVariable) is "1" or "true";
}
