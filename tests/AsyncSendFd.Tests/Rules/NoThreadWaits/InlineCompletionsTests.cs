using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using AsyncSendFd.Engine;
using AsyncSendFd.Tests.Support;
using Microsoft.Win32.SafeHandles;
using static AsyncSendFd.Tests.Support.Timeouts;

namespace AsyncSendFd.Tests.Rules.NoThreadWaits;

/// <summary>
/// With inline completions a continuation runs on the readiness thread; a blocking call made there must fail at once
/// rather than wait for the thread it is running on. Checked on an engine of the test's own, with inline completions
/// on, whose continuation calls the blocking API.
/// </summary>
[SupportedOSPlatform("linux")] // an epoll engine of its own
public sealed class InlineCompletionsTests
{
    [LinuxFact]
    public async Task BlockingSend_FromAnInlineContinuation_WhileAnAsyncSendHoldsTheGate_ThrowsInsteadOfHanging()
    {
        var host = new EngineHost(EngineHost.CreatePlatformBackend, inlineCompletions: true);
        using var trigger = SocketPair.Create();
        using var stalled = SocketPair.Create();
        using SafeFileHandle file = Descriptors.TempFile();
        int filler = SocketFill.FillSendBuffer(stalled.Left, 0xAA);
        Task held = stalled.Left.SendFdAsync(file).AsTask(); // waits, holding the socket's send gate
        var readiness = new SocketReadiness(trigger.Right.SafeHandle, host);

        Task<Exception?> fromContinuation = ContinueOnTheReadinessThread(readiness, trigger, () =>
            stalled.Left.SendFds([1], new SafeHandle[] { file }));
        trigger.Left.Send([1]);
        Exception? thrown = await fromContinuation.WaitAsync(Guard);

        Assert.IsType<InvalidOperationException>(thrown);
        SocketFill.DrainFiller(stalled.Right, filler, 0xAA);
        await held.WaitAsync(Guard);
        stalled.Right.ReceiveFd().Dispose();
    }

    [LinuxFact]
    public async Task BlockingReceive_FromAnInlineContinuation_ThrowsInsteadOfHanging()
    {
        var host = new EngineHost(EngineHost.CreatePlatformBackend, inlineCompletions: true);
        using var trigger = SocketPair.Create();
        using var idle = SocketPair.Create();
        var readiness = new SocketReadiness(trigger.Right.SafeHandle, host);

        Task<Exception?> fromContinuation = ContinueOnTheReadinessThread(readiness, trigger, () => idle.Right.ReceiveFd().Dispose());
        trigger.Left.Send([1]);

        Assert.IsType<InvalidOperationException>(await fromContinuation.WaitAsync(Guard));
    }

    /// <summary>Waits for <paramref name="trigger"/> to be readable on the test's engine and runs <paramref name="call"/> in the inline continuation.</summary>
    private static Task<Exception?> ContinueOnTheReadinessThread(SocketReadiness readiness, SocketPair trigger, Action call)
    {
        var outcome = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        // Without a captured context (xunit installs one), the engine runs the continuation on its own thread.
        ConfiguredValueTaskAwaitable<int>.ConfiguredValueTaskAwaiter readable =
            readiness.WaitAsync(Interest.Read, (int)trigger.Right.SafeHandle.DangerousGetHandle(), default).ConfigureAwait(false).GetAwaiter();
        readable.UnsafeOnCompleted(() =>
        {
            _ = readable.GetResult();
            outcome.SetResult(Record.Exception(call));
        });
        return outcome.Task;
    }
}
