namespace AsyncSendFd.Hosting.Tests.Support;

/// <summary>This process's user id, as the kernel reports it to a peer (no P/Invoke needed).</summary>
internal static class Identity
{
    public static readonly uint UserId = Read();

    private static uint Read()
    {
        (System.Net.Sockets.Socket left, System.Net.Sockets.Socket right) = UnixSocketPair.Create();
        using (left)
        using (right)
        {
            return left.GetPeerCredentials().UserId;
        }
    }
}

/// <summary>A fact that needs root (to run a successor as another user); reported skipped otherwise.</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute() => Skip = Identity.UserId == 0 ? null : "needs root to start a successor as another user";
}
