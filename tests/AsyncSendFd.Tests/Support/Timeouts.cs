namespace AsyncSendFd.Tests.Support;

/// <summary>The one hang guard of the suite (use with <c>using static</c>).</summary>
internal static class Timeouts
{
    /// <summary>
    /// How long a test waits for something that should happen at once before it fails instead of hanging the run.
    /// Never a measurement: a test that checks how fast something happens states its own bound. Generous, because the
    /// CI machines and the shared development machine may be loaded.
    /// </summary>
    public static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);
}
