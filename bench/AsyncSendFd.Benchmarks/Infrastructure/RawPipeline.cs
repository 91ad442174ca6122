namespace AsyncSendFd.Benchmarks.Infrastructure;

/// <summary>
/// The floor of the async pipeline: one thread sending with blocking sendmsg, one receiving with blocking
/// recvmsg and closing. Both threads live for the whole run and are released per batch, as pool threads are.
/// </summary>
internal sealed unsafe class RawPipeline : IDisposable
{
    private readonly int _sender;
    private readonly int _receiver;
    private readonly int _fd;
    private readonly Thread _sendThread;
    private readonly Thread _receiveThread;
    private readonly SemaphoreSlim _sendStart = new(0);
    private readonly SemaphoreSlim _receiveStart = new(0);
    private readonly CountdownEvent _done = new(2);
    private volatile int _count;
    private volatile bool _stopping;
    private Exception? _failure;

    public RawPipeline(int fd)
    {
        (_sender, _receiver) = SocketPair.CreateRaw();
        _fd = fd;
        _sendThread = new Thread(SendLoop) { IsBackground = true, Name = "raw sender" };
        _receiveThread = new Thread(ReceiveLoop) { IsBackground = true, Name = "raw receiver" };
        _sendThread.Start();
        _receiveThread.Start();
    }

    /// <summary>Passes <paramref name="count"/> descriptors from one thread to the other and waits until all are closed.</summary>
    public void Run(int count)
    {
        _count = count;
        _done.Reset(2);
        _sendStart.Release();
        _receiveStart.Release();
        _done.Wait();
        if (_failure is not null)
        {
            throw new InvalidOperationException("The raw pipeline failed.", _failure);
        }
    }

    private void SendLoop()
    {
        int* data = stackalloc int[1];
        *data = 0;
        int fd = _fd;
        while (true)
        {
            _sendStart.Wait();
            if (_stopping)
            {
                return;
            }

            try
            {
                for (int i = _count; i > 0; i--)
                {
                    RawFd.Send(_sender, (byte*)data, sizeof(int), new ReadOnlySpan<int>(in fd), RawFd.BlockingSendFlags);
                }
            }
            catch (Exception e)
            {
                _failure = e;
            }

            _done.Signal();
        }
    }

    private void ReceiveLoop()
    {
        int* data = stackalloc int[1];
        while (true)
        {
            _receiveStart.Wait();
            if (_stopping)
            {
                return;
            }

            try
            {
                for (int i = _count; i > 0; i--)
                {
                    _ = RawFd.ReceiveAndClose(_receiver, (byte*)data, sizeof(int), 1, RawFd.ReceiveFlags);
                }
            }
            catch (Exception e)
            {
                _failure = e;
            }

            _done.Signal();
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _sendStart.Release();
        _receiveStart.Release();
        _sendThread.Join();
        _receiveThread.Join();
        SocketPair.Close(_sender, _receiver);
        _sendStart.Dispose();
        _receiveStart.Dispose();
        _done.Dispose();
    }
}
