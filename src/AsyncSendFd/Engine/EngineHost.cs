using AsyncSendFd.Diagnostics;

namespace AsyncSendFd.Engine;

/// <summary>
/// Starts the engine on the first wait and again after a failure. A failed start is not cached: the next wait
/// tries again, so running out of descriptors once does not break every later async call.
/// </summary>
internal sealed class EngineHost(EngineHost.BackendFactory createBackend, bool inlineCompletions)
{
    /// <summary>Creates a backend, or returns the errno.</summary>
    public delegate int BackendFactory(out IReadinessBackend? backend);

    private readonly Lock _lock = new();
    private ReadinessEngine? _current;

    /// <summary>The process's engine: epoll on Linux, kqueue on macOS.</summary>
    public static EngineHost Shared { get; } = new(CreatePlatformBackend, InlineCompletionsSwitch.IsEnabled);

    /// <summary>The engine last started, failed or not; <see langword="null"/> before the first wait.</summary>
    public ReadinessEngine? Current => Volatile.Read(ref _current);

    /// <summary>The running engine, started if need be.</summary>
    /// <returns>0, or the errno that kept it from starting.</returns>
    public int TryGetEngine(out ReadinessEngine? engine)
    {
        engine = Volatile.Read(ref _current);
        if (engine is not null && !engine.HasFailed)
        {
            return 0;
        }

        lock (_lock)
        {
            engine = _current;
            if (engine is not null && !engine.HasFailed)
            {
                return 0;
            }

            int errno = createBackend(out IReadinessBackend? backend);
            if (errno != 0)
            {
                engine = null;
                AsyncSendFdMetrics.EngineStartFailed(errno);
                return errno;
            }

            engine = new ReadinessEngine(backend!, inlineCompletions);
            Volatile.Write(ref _current, engine);
            AsyncSendFdMetrics.EngineStarted();
            return 0;
        }
    }

    internal static int CreatePlatformBackend(out IReadinessBackend? backend)
    {
        int errno;
        if (OperatingSystem.IsLinux())
        {
            errno = EpollBackend.TryCreate(out EpollBackend? epoll);
            backend = epoll;
        }
        else if (OperatingSystem.IsMacOS())
        {
            errno = KqueueBackend.TryCreate(out KqueueBackend? kqueue);
            backend = kqueue;
        }
        else
        {
            throw new PlatformNotSupportedException();
        }

        return errno;
    }
}
