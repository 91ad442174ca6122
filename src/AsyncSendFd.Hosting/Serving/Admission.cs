using System.Security.Cryptography;
using System.Text;
using AsyncSendFd.Hosting.Internal;
using AsyncSendFd.Hosting.Protocol;
using AsyncSendFd.Native.Interop.Unix;

namespace AsyncSendFd.Hosting.Serving;

/// <summary>
/// Who may take over: a process the kernel says runs as an allowed user (<c>SO_PEERCRED</c>), holding a one-time
/// token this generation gave out: to the child it started (in its environment), or through
/// <see cref="UpgradeOptions.TokenFile"/> to whoever may read that file. A token admits one attempt.
/// </summary>
internal sealed class Admission(UpgradeOptions options)
{
    private readonly Lock _lock = new();
    private string? _childToken;
    private string? _fileToken;

    /// <summary>What an upgrade's child is given; valid until <see cref="RevokeChildToken"/>.</summary>
    public string IssueChildToken()
    {
        lock (_lock)
        {
            return _childToken = UpgradeWire.NewToken();
        }
    }

    public void RevokeChildToken()
    {
        lock (_lock)
        {
            _childToken = null;
        }
    }

    public bool IsChildToken(string token)
    {
        lock (_lock)
        {
            return Matches(_childToken, token);
        }
    }

    /// <summary>Writes a fresh token to <see cref="UpgradeOptions.TokenFile"/>, if there is one.</summary>
    public void PublishFileToken()
    {
        if (options.TokenFile is { } path)
        {
            lock (_lock)
            {
                _fileToken = UpgradeWire.NewToken();
                TokenFile.Write(path, _fileToken);
            }
        }
    }

    /// <summary>Whether <paramref name="token"/> is the token file's; if so it is used up and the file gets a new one.</summary>
    public bool RedeemFileToken(string token)
    {
        lock (_lock)
        {
            if (!Matches(_fileToken, token))
            {
                return false;
            }
        }

        PublishFileToken();
        return true;
    }

    /// <summary>A generation that stops for good takes its token file with it.</summary>
    public void WithdrawFileToken()
    {
        lock (_lock)
        {
            if (options.TokenFile is { } path && _fileToken is { } token)
            {
                TokenFile.DeleteIfHolds(path, token);
            }

            _fileToken = null;
        }
    }

    /// <summary>The kernel's credentials of the peer against the policy: the same user, an allowed one, or the callback's say.</summary>
    public bool MayTakeOver(UnixPeerCredentials peer) =>
        options.AuthorizeSuccessor is { } authorize ? authorize(peer) : peer.UserId == LibC.getuid() || options.AllowedUserIds.Contains(peer.UserId);

    private static bool Matches(string? expected, string presented) =>
        expected is not null && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(presented));
}
