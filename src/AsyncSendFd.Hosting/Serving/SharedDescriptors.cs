using System.Runtime.InteropServices;
using System.Text;
using AsyncSendFd.Hosting.Protocol;

namespace AsyncSendFd.Hosting.Serving;

/// <summary>What this generation hands to the next, by name. The callers keep ownership of the handles.</summary>
internal sealed class SharedDescriptors
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, SafeHandle> _shared = new(StringComparer.Ordinal);

    /// <exception cref="ArgumentException"><paramref name="name"/> is empty, too long, or reserved.</exception>
    public void Share(string name, SafeHandle handle)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(handle);
        if (name == UpgradeWire.ControlSocketName || Encoding.UTF8.GetByteCount(name) > UpgradeWire.MaxNameBytes)
        {
            throw new ArgumentException($"'{name}' is reserved or longer than {UpgradeWire.MaxNameBytes} bytes.", nameof(name));
        }

        lock (_lock)
        {
            _shared[name] = handle;
        }
    }

    public bool Unshare(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        lock (_lock)
        {
            return _shared.Remove(name);
        }
    }

    /// <summary>The open descriptors now, with the control listener last (so the next generation serves upgrades on the same path).</summary>
    /// <exception cref="IOException">More than one message can carry.</exception>
    public (string[] Names, SafeHandle[] Handles) Snapshot(SafeHandle controlListener)
    {
        lock (_lock)
        {
            KeyValuePair<string, SafeHandle>[] open = [.. _shared.Where(s => !s.Value.IsClosed && !s.Value.IsInvalid)];
            if (open.Length + 1 > SocketFdExtensions.MaxFdsPerMessage)
            {
                throw new IOException($"{open.Length} shared descriptors: at most {SocketFdExtensions.MaxFdsPerMessage - 1} fit one hand-over.");
            }

            return ([.. open.Select(s => s.Key), UpgradeWire.ControlSocketName], [.. open.Select(s => s.Value), controlListener]);
        }
    }
}
