using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using Linux = AsyncSendFd.Native.Interop.Linux;

namespace AsyncSendFd.Engine;

/// <summary>
/// Where <c>struct epoll_event</c> keeps its fields: the kernel packs it on x86 and x86-64 (12 bytes, data at 4)
/// and aligns it everywhere else (16 bytes, data at 8). Chosen once at run time, as the library is built for any CPU.
/// </summary>
[SupportedOSPlatform("linux")]
internal readonly record struct EpollEventLayout(int Size, int DataOffset)
{
    public static EpollEventLayout Packed { get; } = new(sizeof(uint) + sizeof(ulong), sizeof(uint));

    public static EpollEventLayout Aligned { get; } = new(2 * sizeof(ulong), sizeof(ulong));

    public static EpollEventLayout Current { get; } =
        RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.X86 ? Packed : Aligned;

    /// <summary>Writes one event at <paramref name="destination"/>.</summary>
    public unsafe void Write(byte* destination, uint events, ulong data)
    {
        Unsafe.WriteUnaligned(destination, events);
        Unsafe.WriteUnaligned(destination + DataOffset, data);
    }

    /// <summary>Reads event <paramref name="index"/> of an array in this layout.</summary>
    public unsafe (uint Events, ulong Data) Read(byte* array, int index)
    {
        byte* entry = array + ((nint)index * Size);
        return (Unsafe.ReadUnaligned<uint>(entry), Unsafe.ReadUnaligned<ulong>(entry + DataOffset));
    }

    /// <summary>The interest bits for a one-shot, level-triggered registration.</summary>
    public static uint EventsFor(Interest interest) =>
        Linux.LibC.EPOLLONESHOT
        | ((interest & Interest.Read) != 0 ? Linux.LibC.EPOLLIN : 0)
        | ((interest & Interest.Write) != 0 ? Linux.LibC.EPOLLOUT : 0);

    /// <summary>The directions worth retrying: an error or hang-up wakes both.</summary>
    public static Interest ReadyFrom(uint events) =>
        ((events & (Linux.LibC.EPOLLIN | Linux.LibC.EPOLLRDHUP | Linux.LibC.EPOLLHUP | Linux.LibC.EPOLLERR)) != 0 ? Interest.Read : 0)
        | ((events & (Linux.LibC.EPOLLOUT | Linux.LibC.EPOLLHUP | Linux.LibC.EPOLLERR)) != 0 ? Interest.Write : 0);
}
