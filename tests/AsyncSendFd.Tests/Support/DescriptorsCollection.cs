namespace AsyncSendFd.Tests.Support;

/// <summary>
/// Tests that assert on the process-wide descriptor count (or change RLIMIT_NOFILE) run here, one at a time
/// and after every parallel collection has finished, so no other test opens or closes descriptors meanwhile.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DescriptorsCollection
{
    public const string Name = "Descriptors";
}
