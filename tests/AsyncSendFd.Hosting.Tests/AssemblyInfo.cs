using System.Runtime.Versioning;

// The Upgrader runs on Linux and macOS; the descriptor counts read /proc/self/fd, so the suite is Linux's.
[assembly: SupportedOSPlatform("linux")]

// Every test counts descriptors or owns a control socket and a process-wide SIGHUP-free upgrader: one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
