namespace AsyncSendFd.Diagnostics;

/// <summary>Why a received message was refused (closed with its descriptors, and an <see cref="IOException"/> thrown).</summary>
internal enum RefusalReason
{
    /// <summary>Longer than the caller's buffer (<c>MSG_TRUNC</c>).</summary>
    DataTruncated,

    /// <summary>The kernel cut the control data (<c>MSG_CTRUNC</c>), or it was malformed.</summary>
    ControlTruncated,

    /// <summary>More descriptors than the caller gave slots for (two or more for <c>ReceiveFd</c>).</summary>
    TooManyDescriptors,

    /// <summary>No descriptor where one was expected (<c>ReceiveFd</c>, <c>ReceiveSocket</c>).</summary>
    NoDescriptor,

    /// <summary>A descriptor on no data byte, which the one-descriptor format does not allow.</summary>
    NoDataByte,

    /// <summary><c>ReceiveSocket</c> received a descriptor that is no socket.</summary>
    NotASocket,

    /// <summary>An <see cref="FdMessageChannel"/> frame that broke the framing protocol.</summary>
    BadFrame,
}
