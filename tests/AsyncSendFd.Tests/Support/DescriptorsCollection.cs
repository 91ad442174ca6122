namespace AsyncSendFd.Tests.Support;

/// <summary>Tests that compare the process-wide descriptor count run one at a time.</summary>
[CollectionDefinition("Descriptors", DisableParallelization = true)]
public sealed class DescriptorsCollection;
