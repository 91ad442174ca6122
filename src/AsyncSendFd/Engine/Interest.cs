namespace AsyncSendFd.Engine;

/// <summary>The directions a wait is for, independent of the platform's event bits.</summary>
[Flags]
internal enum Interest : byte
{
    None = 0,
    Read = 1,
    Write = 2,
    Both = Read | Write,
}
