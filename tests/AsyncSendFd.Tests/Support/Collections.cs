namespace AsyncSendFd.Tests.Support;

/// <summary>
/// Tests that assert the process-wide descriptor count (or change process-wide settings) run here,
/// alone: xunit runs the parallel collections first, then each non-parallel collection by itself.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DescriptorsCollection
{
    public const string Name = "Descriptors";
}

/// <summary>Tests that cap the thread pool; nothing else may run while they do.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ThreadPoolCollection
{
    public const string Name = "ThreadPool";
}
