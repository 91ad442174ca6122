using System.Net.Sockets;
using AsyncSendFd.Benchmarks.Infrastructure;
using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Benchmarks.Workloads;

/// <summary>One sender task and one receiver task streaming descriptors through one socket pair.</summary>
internal sealed class PipelineWorkload : IDisposable
{
    private readonly SafeFileHandle _file = Descriptor.OpenDevNull();
    private readonly Socket _left;
    private readonly Socket _right;
    private readonly RawPipeline _raw;

    public PipelineWorkload()
    {
        (_left, _right) = SocketPair.CreateSockets();
        _raw = new RawPipeline((int)_file.DangerousGetHandle());
    }

    /// <summary>A task awaiting SendFdAsync <paramref name="count"/> times, a task awaiting ReceiveFdAsync and disposing as often.</summary>
    public Task ManagedAsync(int count)
    {
        Task send = Task.Run(async () =>
        {
            for (int i = 0; i < count; i++)
            {
                await _left.SendFdAsync(_file).ConfigureAwait(false);
            }
        });
        Task receive = Task.Run(async () =>
        {
            for (int i = 0; i < count; i++)
            {
                SafeFileHandle handle = await _right.ReceiveFdAsync().ConfigureAwait(false);
                handle.Dispose();
            }
        });
        return Task.WhenAll(send, receive);
    }

    /// <summary>Blocking sendmsg on one thread, blocking recvmsg + close on another.</summary>
    public void Raw(int count) => _raw.Run(count);

    public void Dispose()
    {
        _raw.Dispose();
        _left.Dispose();
        _right.Dispose();
        _file.Dispose();
    }
}
