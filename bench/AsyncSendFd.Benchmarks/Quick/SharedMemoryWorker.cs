using System.Globalization;
using System.Net.Sockets;
using static AsyncSendFd.Benchmarks.Quick.SharedMemoryProtocol;

namespace AsyncSendFd.Benchmarks.Quick;

/// <summary>
/// The other process of the shared-memory scenario (<c>--shm-worker PATH BUFFER</c>): connects to the parent's Unix
/// socket at PATH, sets its socket buffers to BUFFER bytes (0: the kernel's default), and serves
/// <see cref="SharedMemoryProtocol"/> until the parent hangs up.
/// </summary>
internal static class SharedMemoryWorker
{
    public static int Run(string[] args)
    {
        if (args.Length != 2 || !int.TryParse(args[1], CultureInfo.InvariantCulture, out int buffer))
        {
            Console.Error.WriteLine("--shm-worker takes a socket path and a buffer size.");
            return 2;
        }

        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint(args[0]));
        if (buffer > 0)
        {
            socket.SendBufferSize = buffer;
            socket.ReceiveBufferSize = buffer;
        }

        ServeAsync(socket).GetAwaiter().GetResult();
        return 0;
    }

    private static async Task ServeAsync(Socket socket)
    {
        var channel = new FdMessageChannel(socket, MaxPayloadLength);
        var reply = new byte[8];
        char mode = Bytes;
        int size = 0;
        ReadOnlyMemoryFile? reused = null;
        try
        {
            while (true)
            {
                using FdMessage? message = await channel.ReceiveAsync().ConfigureAwait(false);
                if (message is null)
                {
                    return;
                }

                if (IsControl(message.Payload.Span))
                {
                    (mode, size) = ParseControl(message.Payload.Span);
                    if (mode == Reused && message.FdCount == 1)
                    {
                        reused?.Dispose();
                        reused = ReadOnlyMemoryFile.Open(message.TakeFd(0), FileSeals.Shrink | FileSeals.Grow, size);
                    }

                    await channel.SendAsync("ok"u8.ToArray()).ConfigureAwait(false);
                    continue;
                }

                ulong checksum;
                if (mode == Sealed)
                {
                    // The whole receiving side: check, map, read, unmap and close, before answering.
                    using ReadOnlyMemoryFile file = ReadOnlyMemoryFile.Open(message.TakeFd(0), expectedLength: size);
                    checksum = Checksum(file.Span);
                }
                else
                {
                    checksum = Checksum(mode == Reused ? reused!.Span : message.Payload.Span);
                }

                BitConverter.TryWriteBytes(reply, checksum);
                await channel.SendAsync(reply).ConfigureAwait(false);
            }
        }
        finally
        {
            reused?.Dispose();
        }
    }
}
