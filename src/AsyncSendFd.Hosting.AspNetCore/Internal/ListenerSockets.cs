using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging;

namespace AsyncSendFd.Hosting.AspNetCore.Internal;

/// <summary>
/// Kestrel's listening sockets: each endpoint's is taken from the previous generation when it handed one over, and
/// bound as usual otherwise (<see cref="SocketTransportOptions.CreateBoundListenSocket"/>); every one is shared with
/// the next generation.
/// </summary>
internal sealed class ListenerSockets(Upgrader upgrader, ILogger logger)
{
    // Sockets another process serves from, kept from any finalizer: closing them is harmless, but a finalized Socket
    // that bound a Unix path unlinks it, and the path is the successor's (or the predecessor's) too.
    private static readonly List<Socket> s_openUntilExit = [];

    private readonly AsyncLocal<bool> _bindingThroughTransport = new();
    private readonly Dictionary<EndPoint, (Socket Socket, bool Adopted)> _created = new(ReferenceEqualityComparer.Instance);

    /// <summary>Runs <paramref name="bind"/> as the upgradable transport: the only caller the hook serves.</summary>
    public async ValueTask<T> BindThroughTransportAsync<T>(Func<ValueTask<T>> bind)
    {
        _bindingThroughTransport.Value = true;
        try
        {
            return await bind().ConfigureAwait(false);
        }
        finally
        {
            _bindingThroughTransport.Value = false;
        }
    }

    /// <summary>The hook Kestrel's socket transport calls for each endpoint; <paramref name="bindNew"/> binds a new socket.</summary>
    public Socket AdoptOrBind(EndPoint endpoint, Func<EndPoint, Socket> bindNew)
    {
        if (!_bindingThroughTransport.Value)
        {
            // Another IConnectionListenerFactory (a UseKestrel or UseSockets after UseUpgradableListeners) is binding:
            // its listeners would be handed over but never drained.
            throw new InvalidOperationException(
                $"Kestrel bound {endpoint} through a transport registered after UseUpgradableListeners: call UseUpgradableListeners after UseKestrel and UseSockets.");
        }

        string name = UpgradableListenerExtensions.ListenerName(endpoint);
        Socket? socket = upgrader.TakeInheritedSocket(name);
        bool adopted = socket is not null;
        if (socket is not null)
        {
            Log.Adopted(logger, endpoint.ToString() ?? name);
        }
        else
        {
            socket = bindNew(endpoint);
            Log.Bound(logger, endpoint.ToString() ?? name);
        }

        // Kestrel owns the socket; the next generation gets a copy of its descriptor.
        upgrader.Share(name, socket.SafeHandle);
        lock (_created)
        {
            _created[endpoint] = (socket, adopted);
        }

        return socket;
    }

    /// <summary>The socket the hook made for <paramref name="endpoint"/>, and whether it was inherited.</summary>
    public (Socket Socket, bool Adopted) Take(EndPoint endpoint)
    {
        lock (_created)
        {
            return _created.Remove(endpoint, out (Socket, bool) created)
                ? created
                : throw new InvalidOperationException($"SocketTransportOptions.CreateBoundListenSocket was replaced after UseUpgradableListeners: {endpoint} was not bound through it.");
        }
    }

    /// <summary>Leaves <paramref name="socket"/> open until the process exits: another generation serves from it.</summary>
    public static void KeepOpenUntilExit(Socket socket)
    {
        lock (s_openUntilExit)
        {
            s_openUntilExit.Add(socket);
        }
    }
}
