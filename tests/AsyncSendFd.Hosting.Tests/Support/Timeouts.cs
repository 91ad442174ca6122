namespace AsyncSendFd.Hosting.Tests.Support;

internal static class Timeouts
{
    /// <summary>How long a test waits for what should happen soon before it fails instead of hanging. Never a measurement.</summary>
    public static readonly TimeSpan Guard = TimeSpan.FromSeconds(20);

    /// <summary>
    /// The ready timeout of the tests that wait it out: short, so the suite stays quick, yet long enough for a python
    /// child to start, connect and (through the test) say hello on a loaded machine; 700 ms was not, now and then.
    /// </summary>
    public static readonly TimeSpan ShortReady = TimeSpan.FromSeconds(2);

    /// <summary>The ready timeout of the tests that must not run into it (a python child has to start within it).</summary>
    public static readonly TimeSpan AmpleReady = TimeSpan.FromSeconds(10);
}
