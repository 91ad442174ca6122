using Microsoft.Win32.SafeHandles;

namespace AsyncSendFd.Systemd;

/// <summary>One descriptor passed by the service manager.</summary>
/// <param name="Name">Its name: <c>FileDescriptorName=</c> of a socket unit, the <c>FDNAME=</c> it was stored under, or "unknown".</param>
/// <param name="Handle">The descriptor, owned by the caller.</param>
public readonly record struct SystemdFileDescriptor(string Name, SafeFileHandle Handle);
