using AsyncSendFd.Benchmarks.Workloads;
using BenchmarkDotNet.Attributes;

namespace AsyncSendFd.Benchmarks.Benchmarks;

/// <summary>64 descriptors per message on one data byte: SendFds + ReceiveFds + Dispose all, against raw. Per descriptor.</summary>
[MemoryDiagnoser]
public class BatchBenchmarks
{
    private const int Messages = 32;

    private BatchWorkload _workload = null!;

    [GlobalSetup]
    public void Setup() => _workload = new BatchWorkload();

    [GlobalCleanup]
    public void Cleanup() => _workload.Dispose();

    [Benchmark(Baseline = true, OperationsPerInvoke = Messages * BatchWorkload.FdsPerMessage, Description = "raw 64-fd sendmsg/recvmsg/close")]
    public void Raw() => _workload.Raw(Messages);

    [Benchmark(OperationsPerInvoke = Messages * BatchWorkload.FdsPerMessage, Description = "SendFds/ReceiveFds 64 + Dispose")]
    public void Managed() => _workload.Managed(Messages);
}
