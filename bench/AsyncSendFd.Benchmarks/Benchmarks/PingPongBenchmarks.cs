using AsyncSendFd.Benchmarks.Workloads;
using BenchmarkDotNet.Attributes;

namespace AsyncSendFd.Benchmarks.Benchmarks;

/// <summary>Blocking ping-pong on one thread: SendFd + ReceiveFd + Dispose, against sendmsg + recvmsg + close. Per descriptor.</summary>
[MemoryDiagnoser]
public class PingPongBenchmarks
{
    private const int Fds = 1_000;

    private PingPongWorkload _workload = null!;

    [GlobalSetup]
    public void Setup() => _workload = new PingPongWorkload();

    [GlobalCleanup]
    public void Cleanup() => _workload.Dispose();

    [Benchmark(Baseline = true, OperationsPerInvoke = Fds, Description = "raw sendmsg/recvmsg/close")]
    public void Raw() => _workload.Raw(Fds);

    [Benchmark(OperationsPerInvoke = Fds, Description = "SendFd/ReceiveFd/Dispose")]
    public void Managed() => _workload.Managed(Fds);
}
