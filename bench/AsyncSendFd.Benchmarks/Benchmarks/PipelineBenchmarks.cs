using AsyncSendFd.Benchmarks.Workloads;
using BenchmarkDotNet.Attributes;

namespace AsyncSendFd.Benchmarks.Benchmarks;

/// <summary>
/// A sender and a receiver running concurrently: SendFdAsync / ReceiveFdAsync + Dispose on two tasks, against
/// blocking sendmsg / recvmsg + close on two threads. Per descriptor.
/// </summary>
[MemoryDiagnoser]
public class PipelineBenchmarks
{
    private const int Fds = 4_000;

    private PipelineWorkload _workload = null!;

    [GlobalSetup]
    public void Setup() => _workload = new PipelineWorkload();

    [GlobalCleanup]
    public void Cleanup() => _workload.Dispose();

    [Benchmark(Baseline = true, OperationsPerInvoke = Fds, Description = "raw two threads, blocking")]
    public void Raw() => _workload.Raw(Fds);

    [Benchmark(OperationsPerInvoke = Fds, Description = "SendFdAsync/ReceiveFdAsync tasks")]
    public Task Managed() => _workload.ManagedAsync(Fds);
}
