using AsyncSendFd.Native.Interop;
using AsyncSendFd.Syscalls;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Receiving;

/// <summary>
/// The descriptors of a received message: found in its control data, then handed to the caller as owning handles
/// or closed, every one of them, on every path.
/// </summary>
internal static class ReceivedDescriptors
{
    /// <summary>
    /// Every descriptor of every SCM_RIGHTS message, truncated ones included, so they can be closed.
    /// Descriptors the kernel adds on its own (a pidfd under SO_PASSPIDFD) are closed here.
    /// </summary>
    public static int Collect(ReadOnlySpan<byte> control, Span<int> destination, out bool malformed)
    {
        ControlMessageLayout layout = ControlMessageLayout.Current;
        var reader = new ControlMessageReader(control, layout);
        int count = 0;
        while (reader.TryReadNext(out ControlMessage message))
        {
            if (message.Level == layout.SocketLevel && message.Type == layout.RightsType)
            {
                ReadOnlySpan<int> descriptors = message.Descriptors;
                descriptors.CopyTo(destination[count..]);
                count += descriptors.Length;
            }
            else if (SocketCalls.IsKernelInstalledDescriptor(message.Level, message.Type))
            {
                // Not sent by the peer and not asked for through this API: close it rather than leak it.
                CloseAll(message.Descriptors);
            }
        }

        malformed = reader.IsMalformed;
        return count;
    }

    /// <summary>Wraps each descriptor in an owning handle; if that fails midway, nothing stays open.</summary>
    public static void HandOver(ReadOnlySpan<int> raw, Span<SafeFileHandle?> slots)
    {
        int wrapped = 0;
        try
        {
            for (; wrapped < raw.Length; wrapped++)
            {
                slots[wrapped] = new SafeFileHandle(raw[wrapped], ownsHandle: true);
            }
        }
        catch
        {
            for (int i = 0; i < wrapped; i++)
            {
                slots[i]!.Dispose();
                slots[i] = null;
            }

            CloseAll(raw[wrapped..]);
            throw;
        }
    }

    public static void CloseAll(ReadOnlySpan<int> raw)
    {
        foreach (int fd in raw)
        {
            DescriptorCalls.CloseQuietly(fd);
        }
    }
}
