using System.Diagnostics.Metrics;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using AsyncSendFd.Engine;
using AsyncSendFd.Syscalls;

namespace AsyncSendFd.Diagnostics;

/// <summary>
/// The library's meter, <c>AsyncSendFd</c>: messages and descriptors sent, received and refused, calls waiting for
/// readiness, and the readiness engine's starts and failures, for dotnet-counters and OpenTelemetry.
/// The README lists the instruments.
/// </summary>
/// <remarks>
/// Every record method asks its instruments' <see cref="Instrument.Enabled"/> first, so with nobody listening a hot
/// path pays a load and a branch. Messages and descriptors sent and received, the busy paths, are tallied per
/// processor (<see cref="MessageTally"/>) and read when a listener collects; they count from the first time someone
/// listened. Refusals and engine events are rare and go to the listeners as they happen, with a tag built on the
/// stack. Calls waiting are observed when a listener collects (a count of the calls linked into the engine's
/// registrations), not counted up and down, so the figure is right however late the listener attaches.
/// </remarks>
internal static class AsyncSendFdMetrics
{
    public const string MeterName = "AsyncSendFd";

    private static readonly Meter Meter = new(MeterName, typeof(AsyncSendFdMetrics).Assembly.GetName().Version?.ToString(3));

    private static readonly MessageTally Sent = new();
    private static readonly MessageTally Received = new();

    private static readonly ObservableCounter<long> MessagesSent = Meter.CreateObservableCounter(
        "asyncsendfd.messages.sent", () => Sent.Messages, "{message}", "Messages sent whole, each with the descriptors it carried.");

    private static readonly ObservableCounter<long> DescriptorsSent = Meter.CreateObservableCounter(
        "asyncsendfd.descriptors.sent", () => Sent.Descriptors, "{descriptor}", "Descriptors sent (SCM_RIGHTS); the sender keeps its own.");

    private static readonly ObservableCounter<long> MessagesReceived = Meter.CreateObservableCounter(
        "asyncsendfd.messages.received", () => Received.Messages, "{message}", "Messages received and handed to the caller (end of stream not counted).");

    private static readonly ObservableCounter<long> DescriptorsReceived = Meter.CreateObservableCounter(
        "asyncsendfd.descriptors.received", () => Received.Descriptors, "{descriptor}", "Descriptors received and handed to the caller as owning handles.");

    private static readonly Counter<long> MessagesRefused = Meter.CreateCounter<long>(
        "asyncsendfd.messages.refused", "{message}", "Messages refused on receipt, by reason; each threw an IOException.");

    private static readonly Counter<long> DescriptorsDiscarded = Meter.CreateCounter<long>(
        "asyncsendfd.descriptors.discarded", "{descriptor}", "Descriptors that arrived on refused messages and were closed, by reason.");

    private static readonly Counter<long> EngineStarts = Meter.CreateCounter<long>(
        "asyncsendfd.engine.starts", "{start}", "Starts of the readiness engine (epoll or kqueue thread): the first, and one after each failure.");

    private static readonly Counter<long> EngineFailures = Meter.CreateCounter<long>(
        "asyncsendfd.engine.failures", "{failure}", "Readiness engine failures, by stage (start, wait) and error; the next wait starts it again.");

    // Created with the others; collected by its callback.
    private static readonly ObservableUpDownCounter<int> WaitsActive = Meter.CreateObservableUpDownCounter(
        "asyncsendfd.waits.active", ObserveWaits, "{call}", "Calls waiting for readiness now (blocking and async), by direction (receive, send).");

    /// <summary>A message left whole; <paramref name="descriptors"/> rode on it. Counted only while someone listens.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MessageSent(int descriptors)
    {
        if (MessagesSent.Enabled || DescriptorsSent.Enabled)
        {
            Sent.Add(descriptors);
        }
    }

    /// <summary>A message reached the caller with <paramref name="descriptors"/> owning handles. Counted only while someone listens.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MessageReceived(int descriptors)
    {
        if (MessagesReceived.Enabled || DescriptorsReceived.Enabled)
        {
            Received.Add(descriptors);
        }
    }

    /// <summary>A message was refused; its <paramref name="descriptors"/> were closed.</summary>
    public static void MessageRefused(RefusalReason reason, int descriptors)
    {
        var tag = new KeyValuePair<string, object?>("reason", TagValue(reason));
        if (MessagesRefused.Enabled)
        {
            MessagesRefused.Add(1, tag);
        }

        if (descriptors > 0 && DescriptorsDiscarded.Enabled)
        {
            DescriptorsDiscarded.Add(descriptors, tag);
        }
    }

    /// <summary>A readiness engine started (its pollers run).</summary>
    public static void EngineStarted()
    {
        if (EngineStarts.Enabled)
        {
            EngineStarts.Add(1);
        }
    }

    /// <summary>The engine could not start (<c>epoll_create1</c> or <c>kqueue</c> failed).</summary>
    public static void EngineStartFailed(Errno errno) => EngineFailed("start", errno);

    /// <summary>The running engine's wait failed for good: every waiting call ended with <paramref name="errno"/>.</summary>
    public static void EngineWaitFailed(Errno errno) => EngineFailed("wait", errno);

    private static void EngineFailed(string stage, Errno errno)
    {
        if (!EngineFailures.Enabled)
        {
            return;
        }

        // error.type as .NET names the errno (SocketError), the name a SocketException from it would carry.
        Marshal.SetLastPInvokeError(errno.Value);
        EngineFailures.Add(
            1,
            new KeyValuePair<string, object?>("stage", stage),
            new KeyValuePair<string, object?>("error.type", new SocketException().SocketErrorCode.ToString()));
    }

    /// <summary>The tag value of <paramref name="reason"/>, in the snake case of OpenTelemetry's attribute values.</summary>
    private static string TagValue(RefusalReason reason) => reason switch
    {
        RefusalReason.DataTruncated => "data_truncated",
        RefusalReason.ControlTruncated => "control_truncated",
        RefusalReason.TooManyDescriptors => "too_many_descriptors",
        RefusalReason.NoDescriptor => "no_descriptor",
        RefusalReason.NoDataByte => "no_data_byte",
        RefusalReason.NotASocket => "not_a_socket",
        RefusalReason.BadFrame => "bad_frame",
        _ => throw new ArgumentOutOfRangeException(nameof(reason)),
    };

    private static Measurement<int>[] ObserveWaits()
    {
        (int receives, int sends) = EngineHost.Shared.Current?.CountWaits() ?? default;
        return
        [
            new(receives, new KeyValuePair<string, object?>("direction", "receive")),
            new(sends, new KeyValuePair<string, object?>("direction", "send")),
        ];
    }
}
