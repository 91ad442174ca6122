namespace AsyncSendFd.Syscalls;

/// <summary>The <c>msg_flags</c> of a received message that matter here, independent of the platform's values.</summary>
[Flags]
internal enum ReceiveFlags
{
    None = 0,

    /// <summary><c>MSG_CTRUNC</c>: control data did not fit; descriptors were lost.</summary>
    ControlTruncated = 1,

    /// <summary><c>MSG_TRUNC</c>: a datagram was longer than the buffer.</summary>
    DataTruncated = 2,
}
