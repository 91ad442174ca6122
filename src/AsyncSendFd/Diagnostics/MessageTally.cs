using System.Numerics;
using System.Runtime.InteropServices;

namespace AsyncSendFd.Diagnostics;

/// <summary>
/// Messages and the descriptors they carried, counted by many threads at once without contending: one cell per
/// processor (the one the adding thread runs on), each added to with interlocked instructions, so no count is lost
/// however threads move between processors. Read by summing the cells when a listener collects, rather than handing
/// every message to the listeners (which cost the busiest paths several percent).
/// </summary>
internal sealed class MessageTally
{
    private readonly Cell[] _cells;
    private readonly int _mask;

    public MessageTally()
    {
        int count = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(1, Environment.ProcessorCount));
        _cells = new Cell[count];
        _mask = count - 1;
    }

    public long Messages
    {
        get
        {
            long sum = 0;
            foreach (ref Cell cell in _cells.AsSpan())
            {
                sum += Volatile.Read(ref cell.Messages);
            }

            return sum;
        }
    }

    public long Descriptors
    {
        get
        {
            long sum = 0;
            foreach (ref Cell cell in _cells.AsSpan())
            {
                sum += Volatile.Read(ref cell.Descriptors);
            }

            return sum;
        }
    }

    public void Add(int descriptors)
    {
        ref Cell cell = ref _cells[Thread.GetCurrentProcessorId() & _mask];
        Interlocked.Increment(ref cell.Messages);
        if (descriptors != 0)
        {
            Interlocked.Add(ref cell.Descriptors, descriptors);
        }
    }

    /// <summary>A cache line of its own for each processor's counts: they sit past the first 64 bytes, away from the array's header and the previous cell.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 128)]
    private struct Cell
    {
        [FieldOffset(64)]
        public long Messages;

        [FieldOffset(72)]
        public long Descriptors;
    }
}
