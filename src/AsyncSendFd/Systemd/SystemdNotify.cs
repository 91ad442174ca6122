using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace AsyncSendFd.Systemd;

/// <summary>
/// Talks to the service manager over <c>$NOTIFY_SOCKET</c>, as <c>sd_pid_notify_with_fds</c> does:
/// readiness, status, and the fd store, which keeps descriptors open across a service's restart.
/// </summary>
/// <remarks>
/// The fd store needs <c>FileDescriptorStoreMax=</c> in the unit. After a restart the stored descriptors
/// come back through <see cref="SystemdListenFds.Take()"/> under the names they were stored with.
/// </remarks>
public static class SystemdNotify
{
    /// <summary>The variable systemd sets to the address of its notification socket.</summary>
    public const string NotifySocketVariable = "NOTIFY_SOCKET";

    /// <summary>Whether this process was started with a notification socket.</summary>
    public static bool IsAvailable => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(NotifySocketVariable));

    /// <summary>Sends a state string (e.g. <c>"READY=1"</c>) with optional descriptors to the service manager.</summary>
    /// <param name="state">Newline-separated assignments, see sd_notify(3).</param>
    /// <param name="fds">Descriptors to attach; the caller keeps ownership.</param>
    /// <param name="cancellationToken">Honoured until the message is sent.</param>
    /// <returns><see langword="false"/> when there is no <c>$NOTIFY_SOCKET</c> (not run by systemd), as sd_notify returns 0.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="state"/> or a handle is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="state"/> is empty, or a handle is invalid.</exception>
    /// <exception cref="NotSupportedException"><c>$NOTIFY_SOCKET</c> is not a path or an abstract (<c>@</c>) name.</exception>
    /// <exception cref="SocketException">The service manager's socket refused the message.</exception>
    public static async ValueTask<bool> NotifyAsync(string state, ReadOnlyMemory<SafeHandle> fds = default, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(state);
        UnixDomainSocketEndPoint? endPoint = NotifyEndPoint();
        if (endPoint is null)
        {
            return false;
        }

        using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        await socket.SendFdsToAsync(Encoding.UTF8.GetBytes(state), fds, endPoint, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>Stores descriptors in the service manager's fd store under <paramref name="name"/> (<c>FDSTORE=1</c>, <c>FDNAME=</c>).</summary>
    /// <param name="name">Up to 255 printable characters, no colon.</param>
    /// <param name="fds">The descriptors; the caller keeps its own copies.</param>
    /// <param name="cancellationToken">Honoured until the message is sent.</param>
    /// <returns><see langword="false"/> when there is no <c>$NOTIFY_SOCKET</c>.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is not a valid fd name, or a handle is invalid.</exception>
    /// <exception cref="SocketException">The service manager's socket refused the message.</exception>
    public static ValueTask<bool> StoreFdsAsync(string name, ReadOnlyMemory<SafeHandle> fds, CancellationToken cancellationToken = default)
    {
        ValidateName(name);
        return NotifyAsync($"FDSTORE=1\nFDNAME={name}", fds, cancellationToken);
    }

    /// <summary>Removes the descriptors stored under <paramref name="name"/> (<c>FDSTOREREMOVE=1</c>).</summary>
    /// <returns><see langword="false"/> when there is no <c>$NOTIFY_SOCKET</c>.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is not a valid fd name.</exception>
    /// <exception cref="SocketException">The service manager's socket refused the message.</exception>
    public static ValueTask<bool> RemoveFdsAsync(string name, CancellationToken cancellationToken = default)
    {
        ValidateName(name);
        return NotifyAsync($"FDSTOREREMOVE=1\nFDNAME={name}", default, cancellationToken);
    }

    /// <summary>The notification socket's address: a path, or <c>@name</c> for the abstract namespace.</summary>
    internal static UnixDomainSocketEndPoint? NotifyEndPoint()
    {
        string? address = Environment.GetEnvironmentVariable(NotifySocketVariable);
        return address switch
        {
            null or "" => null,
            ['/', ..] => new UnixDomainSocketEndPoint(address),
            ['@', ..] => new UnixDomainSocketEndPoint("\0" + address[1..]),
            _ => throw new NotSupportedException($"$NOTIFY_SOCKET '{address}' is neither a path nor an abstract name."),
        };
    }

    /// <summary>systemd's fdname_is_valid: 1 to 255 printable ASCII characters, no colon.</summary>
    private static void ValidateName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length is 0 or > 255 || name.Any(c => c is < ' ' or > '~' or ':'))
        {
            throw new ArgumentException("An fd name is 1 to 255 printable ASCII characters without ':'.", nameof(name));
        }
    }
}
