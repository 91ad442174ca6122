using System.Text;

namespace AsyncSendFd.Hosting.Tests.Support;

/// <summary>
/// The upgrade protocol's bytes, written out here rather than borrowed from the library, so that a fake successor
/// speaks the wire as documented (UpgradeWire: one FdMessageChannel frame per message, the first byte its type).
/// </summary>
internal static class Wire
{
    public const byte Offer = (byte)'O';
    public const byte Refused = (byte)'R';
    public const byte Ready = (byte)'Y';
    public const byte Commit = (byte)'C';
    public const byte Abort = (byte)'A';

    /// <summary>[H]ASFU/1 then the one-time token, ASCII.</summary>
    public static byte[] Hello(string token) => [.. "HASFU/1"u8, .. Encoding.ASCII.GetBytes(token)];

    public static byte[] Signal(byte type) => [type];

    public static string Text(FdMessage message) => Encoding.UTF8.GetString(message.Payload.Span[1..]);

    public static byte TypeOf(FdMessage message) => message.Payload.Length > 0 ? message.Payload.Span[0] : (byte)0;
}
