using System.Net.Sockets;
using AsyncSendFd.Engine;

namespace AsyncSendFd.Sockets;

/// <summary>
/// A blocking call's <see cref="Socket.SendTimeout"/> or <see cref="Socket.ReceiveTimeout"/> as one deadline over every
/// wait of the call (its turn at the socket's gate and each wait for readiness), started at the first of them, so
/// neither waiting in line nor spurious wake-ups restart it.
/// </summary>
/// <remarks>
/// The timeout is the <see cref="Socket"/> object's property: .NET keeps it in the object on Linux and macOS, so an
/// <c>SO_RCVTIMEO</c>/<c>SO_SNDTIMEO</c> set on the descriptor some other way does not apply. It is read only when
/// the call must wait, since the property boxes.
/// </remarks>
internal struct Deadline(Socket socket, Interest direction)
{
    private long _at;

    /// <summary>Milliseconds left, or -1 for no deadline; the first call starts the clock.</summary>
    public int RemainingMilliseconds()
    {
        if (_at == 0)
        {
            int timeout = direction == Interest.Write ? socket.SendTimeout : socket.ReceiveTimeout;
            _at = timeout > 0 ? Environment.TickCount64 + timeout : long.MaxValue;
        }

        return _at == long.MaxValue ? Timeout.Infinite : (int)Math.Max(0, _at - Environment.TickCount64);
    }
}
