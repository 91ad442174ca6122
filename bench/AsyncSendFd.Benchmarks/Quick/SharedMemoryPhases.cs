using System.Diagnostics;
using AsyncSendFd.Native.Interop.Unix;
using Microsoft.Win32.SafeHandles;
using Linux = AsyncSendFd.Native.Interop.Linux;
using static AsyncSendFd.Benchmarks.Quick.SharedMemoryProtocol;

namespace AsyncSendFd.Benchmarks.Quick;

/// <summary>
/// Where a sealed memory file's time goes, in this process alone (no socket, no second process): each step of the
/// sending and receiving side, beside filling, copying and reading memory that is mapped already, which is what the
/// bytes variant does with its reused arrays. Per 4 KiB page, so that sizes compare.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class SharedMemoryPhases
{
    private const int Passes = 5;

    public static void Print(IEnumerable<int> sizes)
    {
        Console.WriteLine();
        Console.WriteLine($"where a sealed memory file's time goes, in one process: us per 4 KiB page, median of {Passes} passes");
        Console.WriteLine("size     memory file: create     fill     seal     open     read  dispose | mapped memory: fill     copy     read");
        foreach (int size in sizes)
        {
            double[][] passes = [.. Enumerable.Range(0, Passes + 1).Select(_ => Pass(size)).Skip(1)];
            double[] us = [.. Enumerable.Range(0, passes[0].Length).Select(i => passes.Select(p => p[i]).Order().ElementAt(Passes / 2) * 1e6 / (size / 4096.0))];
            string name = size >= 1 << 20 ? FormattableString.Invariant($"{size >> 20} MiB") : FormattableString.Invariant($"{size >> 10} KiB");
            Console.WriteLine(FormattableString.Invariant(
                $"{name,-8} {us[0],20:0.00} {us[1],8:0.00} {us[2],8:0.00} {us[3],8:0.00} {us[4],8:0.00} {us[5],8:0.00} | {us[6],19:0.00} {us[7],8:0.00} {us[8],8:0.00}"));
        }
    }

    /// <summary>Seconds: create, fill, seal, open (a copy of the descriptor), read, dispose both; then fill, copy, read of arrays.</summary>
    private static double[] Pass(int size)
    {
        var times = new double[9];
        long start = Stopwatch.GetTimestamp();
        MemoryFile file = MemoryFile.Create(size);
        times[0] = Lap(ref start);
        file.Span.Fill(1);
        times[1] = Lap(ref start);
        file.Seal();
        times[2] = Lap(ref start);
        // The receiver's own descriptor, as a received one would be.
        var copy = new SafeFileHandle(LibC.fcntl((int)file.Handle.DangerousGetHandle(), Linux.LibC.F_DUPFD_CLOEXEC, 0), ownsHandle: true);
        _ = Lap(ref start);
        ReadOnlyMemoryFile view = ReadOnlyMemoryFile.Open(copy);
        times[3] = Lap(ref start);
        ulong sum = Checksum(view.Span);
        times[4] = Lap(ref start);
        view.Dispose();
        file.Dispose();
        times[5] = Lap(ref start);

        byte[] source = new byte[size];
        byte[] destination = new byte[size];
        source.AsSpan().Fill(0);
        destination.AsSpan().Fill(0);
        _ = Lap(ref start);
        source.AsSpan().Fill(1);
        times[6] = Lap(ref start);
        source.CopyTo(destination, 0);
        times[7] = Lap(ref start);
        sum -= Checksum(destination);
        times[8] = Lap(ref start);
        return sum == 0 ? times : throw new InvalidOperationException("The memory file did not read back what was written.");
    }

    private static double Lap(ref long start)
    {
        long now = Stopwatch.GetTimestamp();
        double seconds = Stopwatch.GetElapsedTime(start, now).TotalSeconds;
        start = now;
        return seconds;
    }
}
