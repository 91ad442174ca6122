using System.Net;
using System.Net.Sockets;

namespace AsyncSendFd.Hosting.AspNetCore.Internal;

/// <summary>The file behind a Unix-domain-socket endpoint.</summary>
internal static class UnixSocketFile
{
    /// <summary>Removes the endpoint's socket file; an abstract address (Linux) has none.</summary>
    public static void Delete(UnixDomainSocketEndPoint endpoint)
    {
        // sun_path starts after the 2-byte family; a leading zero byte marks an abstract address.
        SocketAddress address = endpoint.Serialize();
        if (address.Size > 2 && address[2] != 0)
        {
            File.Delete(endpoint.ToString());
        }
    }
}
