namespace AsyncSendFd;

/// <summary>What one received message carried.</summary>
/// <param name="BytesReceived">Data bytes written to the caller's buffer; 0 with 0 descriptors at end of stream or for an empty datagram.</param>
/// <param name="FdCount">Descriptors written to the first slots of the caller's span; the caller owns them.</param>
public readonly record struct FdReceiveResult(int BytesReceived, int FdCount);
