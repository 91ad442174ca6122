using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Hosting.Successor;

/// <summary>What the previous generation handed over, by name, until someone takes each one or it is closed.</summary>
internal sealed class InheritedDescriptors : IDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, SafeFileHandle> _handles = new(StringComparer.Ordinal);

    public IReadOnlyCollection<string> Names
    {
        get
        {
            lock (_lock)
            {
                return [.. _handles.Keys];
            }
        }
    }

    public void Add(string name, SafeFileHandle handle)
    {
        lock (_lock)
        {
            _handles.Add(name, handle);
        }
    }

    /// <summary>The descriptor of that name, now owned by the caller; <see langword="null"/> when none (or taken already).</summary>
    public SafeFileHandle? Take(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        lock (_lock)
        {
            return _handles.Remove(name, out SafeFileHandle? handle) ? handle : null;
        }
    }

    /// <summary>Closes every descriptor nobody took, and says which.</summary>
    public string[] CloseRest()
    {
        lock (_lock)
        {
            string[] names = [.. _handles.Keys.Order(StringComparer.Ordinal)];
            foreach (SafeFileHandle handle in _handles.Values)
            {
                handle.Dispose();
            }

            _handles.Clear();
            return names;
        }
    }

    public void Dispose() => CloseRest();
}
