namespace AsyncSendFd.Benchmarks.Chaos;

/// <summary>A lane's last events (calls and their outcomes, faults), printed with a violation on the lane to explain it.</summary>
internal sealed class LaneLog
{
    private const int Size = 24;

    private readonly (long At, string What)[] _events = new (long, string)[Size];
    private readonly Lock _gate = new();
    private int _next;

    public void Add(string what)
    {
        lock (_gate)
        {
            _events[_next % Size] = (Environment.TickCount64, what.ReplaceLineEndings(" "));
            _next++;
        }
    }

    /// <summary>The events oldest first, with their age in milliseconds.</summary>
    public string Recent()
    {
        lock (_gate)
        {
            long now = Environment.TickCount64;
            IEnumerable<int> order = Enumerable.Range(Math.Max(0, _next - Size), Math.Min(_next, Size));
            return string.Join("; ", order.Select(i => _events[i % Size]).Select(e => $"-{now - e.At}ms {e.What}"));
        }
    }
}
