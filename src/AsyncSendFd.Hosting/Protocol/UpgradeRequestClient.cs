using System.Net.Sockets;

namespace AsyncSendFd.Hosting.Protocol;

/// <summary>The operator's end of the control socket: ask the serving generation for an upgrade, and hear how it ended.</summary>
internal static class UpgradeRequestClient
{
    public static async Task<UpgradeResult> RequestAsync(string socketPath, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        using var connection = new ControlConnection(socket);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
        await connection.SendAsync(UpgradeWire.EncodeUpgradeRequest(), cancellationToken).ConfigureAwait(false);
        using FdMessage reply = await connection.ReceiveAsync(cancellationToken).ConfigureAwait(false)
            ?? throw new IOException("The serving generation hung up without a result.");
        ReadOnlySpan<byte> payload = reply.Payload.Span;
        return payload.Length > 0 && payload[0] == UpgradeWire.Refused
            ? throw new IOException($"The serving generation refused the request: {UpgradeWire.DecodeText(payload)}")
            : UpgradeWire.DecodeResult(payload);
    }
}
