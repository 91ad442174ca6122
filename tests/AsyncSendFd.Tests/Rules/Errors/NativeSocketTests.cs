using AsyncSendFd.Internal;

namespace AsyncSendFd.Tests.Rules.Errors;

/// <summary>The platform layer's own checks: a failed syscall is reported, never used as a value.</summary>
public class NativeSocketTests
{
    [Fact]
    public void SetNonBlocking_WhenFGetFlFails_ThrowsInsteadOfSettingFlagsFromMinusOne()
    {
        // fcntl(-1, F_GETFL) fails with EBADF; OR-ing O_NONBLOCK onto its -1 would ask F_SETFL for every flag.
        IOException e = Assert.Throws<IOException>(() => NativeSocket.SetNonBlocking(-1));

        Assert.Contains("F_GETFL", e.Message, StringComparison.Ordinal);
    }
}
