using AsyncSendFd.Diagnostics;
using AsyncSendFd.Syscalls;

namespace AsyncSendFd.Engine;

/// <summary>
/// Starts the engine on the first wait and again after a failure. A failed start is not cached: the next wait
/// tries again, so running out of descriptors once does not break every later async call.
/// </summary>
/// <param name="createBackend">Creates the kernel's queue.</param>
/// <param name="pollers">How many poller threads an engine runs.</param>
/// <param name="alwaysInline">The inline-completions opt-in.</param>
/// <param name="startThread">Starts the engine's threads; a test's seam.</param>
internal sealed class EngineHost(EngineHost.BackendFactory createBackend, int pollers, bool alwaysInline, Action<Thread>? startThread = null)
{
    /// <summary>Creates a backend, or returns the errno.</summary>
    public delegate Errno BackendFactory(out IReadinessBackend? backend);

    private readonly Lock _lock = new();
    private ReadinessEngine? _current;

    /// <summary>The process's engine: epoll on Linux, kqueue on macOS.</summary>
    public static EngineHost Shared { get; } = new(CreatePlatformBackend, DefaultPollers, InlineCompletionsSwitch.IsEnabled);

    /// <summary>
    /// One poller holds the kernel's wait and the rest stand by, so that a continuation that blocks hands the wait over
    /// without starting a thread: one more than the processors that can run continuations at once, at least three,
    /// and at most five, since more start while continuations hold these.
    /// </summary>
    public static int DefaultPollers => Math.Clamp(Environment.ProcessorCount + 1, 3, 5);

    /// <summary>The engine last started, failed or not; <see langword="null"/> before the first wait.</summary>
    public ReadinessEngine? Current => Volatile.Read(ref _current);

    /// <summary>The running engine, started if need be.</summary>
    /// <returns><see cref="Errno.Success"/>, or the errno that kept it from starting.</returns>
    public Errno TryGetEngine(out ReadinessEngine? engine)
    {
        engine = Volatile.Read(ref _current);
        if (engine is not null && !engine.HasFailed)
        {
            return Errno.Success;
        }

        lock (_lock)
        {
            engine = _current;
            if (engine is not null && !engine.HasFailed)
            {
                return Errno.Success;
            }

            Errno errno = createBackend(out IReadinessBackend? backend);
            if (!errno.IsSuccess)
            {
                engine = null;
                AsyncSendFdMetrics.EngineStartFailed(errno);
                return errno;
            }

            engine = new ReadinessEngine(backend!, pollers, alwaysInline, startThread);
            Volatile.Write(ref _current, engine);
            AsyncSendFdMetrics.EngineStarted();
            return Errno.Success;
        }
    }

    internal static Errno CreatePlatformBackend(out IReadinessBackend? backend)
    {
        Errno errno;
        if (Os.IsLinux)
        {
            errno = EpollBackend.TryCreate(out EpollBackend? epoll);
            backend = epoll;
        }
        else if (Os.IsMacOS)
        {
            errno = KqueueBackend.TryCreate(out KqueueBackend? kqueue);
            backend = kqueue;
        }
        else
        {
            throw Os.NotSupported();
        }

        return errno;
    }
}
