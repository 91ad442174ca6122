// The Darwin types are marked [SupportedOSPlatform("macos")]. These tests only measure their layout and read their
// constant values, on Linux as on macOS; nothing here calls into macOS, so the platform analyzer's warning does not apply.
#pragma warning disable CA1416

using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using AsyncSendFd.Native.Interop;
using Darwin = AsyncSendFd.Native.Interop.Darwin;

namespace AsyncSendFd.Tests.Interop;

/// <summary>
/// macOS layouts and constants, checked on Linux against the xnu headers: no macOS compiler is at hand, so the
/// expected figures are written out by hand. Darwin is 64-bit only, like this process.
/// </summary>
public sealed class DarwinLayoutTests
{
    /// <summary>
    /// Every constant of <see cref="Darwin.LibC"/> with its macOS value, as xnu's headers define it: bsd/sys/socket.h,
    /// un.h, ucred.h, fcntl.h, poll.h, event.h, errno.h, mman.h and stat.h.
    /// </summary>
    private static readonly Dictionary<string, long> ExpectedConstants = new(StringComparer.Ordinal)
    {
        // <sys/socket.h>
        ["AF_UNIX"] = 1,
        ["SOCK_STREAM"] = 1,
        ["SOCK_DGRAM"] = 2,
        ["SOCK_SEQPACKET"] = 5,
        ["SOL_SOCKET"] = 0xffff,
        ["SO_SNDBUF"] = 0x1001,
        ["SO_RCVBUF"] = 0x1002,
        ["SO_TYPE"] = 0x1008,
        ["SO_NOSIGPIPE"] = 0x1022,
        ["SCM_RIGHTS"] = 1,
        ["SCM_CREDS"] = 3,
        ["MSG_PEEK"] = 0x2,
        ["MSG_EOR"] = 0x8,
        ["MSG_TRUNC"] = 0x10,
        ["MSG_CTRUNC"] = 0x20,
        ["MSG_DONTWAIT"] = 0x80,
        ["MSG_NOSIGNAL"] = 0x80000,

        // <sys/un.h>, <sys/ucred.h>
        ["SOL_LOCAL"] = 0,
        ["LOCAL_PEERCRED"] = 1,
        ["LOCAL_PEERPID"] = 2,
        ["XUCRED_VERSION"] = 0,

        // <fcntl.h>
        ["F_GETFD"] = 1,
        ["F_SETFD"] = 2,
        ["F_GETFL"] = 3,
        ["F_SETFL"] = 4,
        ["F_DUPFD_CLOEXEC"] = 67,
        ["FD_CLOEXEC"] = 1,
        ["O_NONBLOCK"] = 0x4,
        ["O_RDWR"] = 0x2,
        ["O_CREAT"] = 0x200,
        ["O_EXCL"] = 0x800,

        // <sys/mman.h>, <sys/stat.h> (xnu)
        ["PROT_READ"] = 0x1,
        ["PROT_WRITE"] = 0x2,
        ["MAP_SHARED"] = 0x1,
        ["S_IFMT"] = 0xF000,

        // <poll.h>
        ["POLLIN"] = 0x1,
        ["POLLOUT"] = 0x4,
        ["POLLERR"] = 0x8,
        ["POLLHUP"] = 0x10,
        ["POLLNVAL"] = 0x20,

        // <sys/event.h>
        ["EVFILT_READ"] = -1,
        ["EVFILT_WRITE"] = -2,
        ["EVFILT_USER"] = -10,
        ["EV_ADD"] = 0x0001,
        ["EV_DELETE"] = 0x0002,
        ["EV_ENABLE"] = 0x0004,
        ["EV_DISABLE"] = 0x0008,
        ["EV_ONESHOT"] = 0x0010,
        ["EV_CLEAR"] = 0x0020,
        ["EV_RECEIPT"] = 0x0040,
        ["EV_DISPATCH"] = 0x0080,
        ["EV_ERROR"] = 0x4000,
        ["EV_EOF"] = 0x8000,
        ["NOTE_TRIGGER"] = 0x01000000,

        // <sys/errno.h>
        ["EPERM"] = 1,
        ["ENOENT"] = 2,
        ["EINTR"] = 4,
        ["EBADF"] = 9,
        ["ENOMEM"] = 12,
        ["EEXIST"] = 17,
        ["EINVAL"] = 22,
        ["ENFILE"] = 23,
        ["EMFILE"] = 24,
        ["EPIPE"] = 32,
        ["EAGAIN"] = 35,
        ["ENOTSOCK"] = 38,
        ["EMSGSIZE"] = 40,
        ["ENOPROTOOPT"] = 42,
        ["ECONNRESET"] = 54,
        ["ENOBUFS"] = 55,
        ["ENOTCONN"] = 57,
        ["ETOOMANYREFS"] = 59,
        ["ETIMEDOUT"] = 60,
    };

    public static TheoryData<string> ConstantNames() => new(ExpectedConstants.Keys.Order(StringComparer.Ordinal));

    [Fact]
    public void Msghdr_Is48BytesWithIntCountsAndFlagsAt44()
    {
        Assert.Equal(48, Unsafe.SizeOf<Darwin.msghdr>());
        Assert.Equal(48, Marshal.SizeOf<Darwin.msghdr>());
        Assert.Equal(0, Offset<Darwin.msghdr>(nameof(Darwin.msghdr.msg_name)));
        Assert.Equal(8, Offset<Darwin.msghdr>(nameof(Darwin.msghdr.msg_namelen)));
        Assert.Equal(16, Offset<Darwin.msghdr>(nameof(Darwin.msghdr.msg_iov)));
        Assert.Equal(24, Offset<Darwin.msghdr>(nameof(Darwin.msghdr.msg_iovlen)));
        Assert.Equal(32, Offset<Darwin.msghdr>(nameof(Darwin.msghdr.msg_control)));
        Assert.Equal(40, Offset<Darwin.msghdr>(nameof(Darwin.msghdr.msg_controllen)));
        Assert.Equal(44, Offset<Darwin.msghdr>(nameof(Darwin.msghdr.msg_flags)));

        // int and socklen_t counts, not size_t: the Linux shape would put msg_flags at 48.
        Assert.Equal(typeof(int), typeof(Darwin.msghdr).GetField(nameof(Darwin.msghdr.msg_iovlen))!.FieldType);
        Assert.Equal(typeof(uint), typeof(Darwin.msghdr).GetField(nameof(Darwin.msghdr.msg_controllen))!.FieldType);
        Assert.Equal(typeof(uint), typeof(Darwin.msghdr).GetField(nameof(Darwin.msghdr.msg_namelen))!.FieldType);
    }

    [Fact]
    public unsafe void Msghdr_ManagedLayout_MatchesMarshalLayout()
    {
        Darwin.msghdr m = default;
        byte* start = (byte*)&m;
        Assert.Equal(8, (byte*)&m.msg_namelen - start);
        Assert.Equal(24, (byte*)&m.msg_iovlen - start);
        Assert.Equal(40, (byte*)&m.msg_controllen - start);
        Assert.Equal(44, (byte*)&m.msg_flags - start);
        Assert.Equal(48, sizeof(Darwin.msghdr));
    }

    [Fact]
    public void Cmsghdr_Is12BytesWith32BitLength()
    {
        Assert.Equal(12, Unsafe.SizeOf<Darwin.cmsghdr>());
        Assert.Equal(0, Offset<Darwin.cmsghdr>(nameof(Darwin.cmsghdr.cmsg_len)));
        Assert.Equal(4, Offset<Darwin.cmsghdr>(nameof(Darwin.cmsghdr.cmsg_level)));
        Assert.Equal(8, Offset<Darwin.cmsghdr>(nameof(Darwin.cmsghdr.cmsg_type)));
        Assert.Equal(typeof(uint), typeof(Darwin.cmsghdr).GetField(nameof(Darwin.cmsghdr.cmsg_len))!.FieldType);
    }

    [Fact]
    public void Xucred_Is76BytesWithGroupsAt12()
    {
        Assert.Equal(76, Unsafe.SizeOf<Darwin.xucred>());
        Assert.Equal(76, Marshal.SizeOf<Darwin.xucred>());
        Assert.Equal(0, Offset<Darwin.xucred>(nameof(Darwin.xucred.cr_version)));
        Assert.Equal(4, Offset<Darwin.xucred>(nameof(Darwin.xucred.cr_uid)));
        Assert.Equal(8, Offset<Darwin.xucred>(nameof(Darwin.xucred.cr_ngroups)));
        Assert.Equal(12, Offset<Darwin.xucred>(nameof(Darwin.xucred.cr_groups)));
        Assert.Equal(typeof(short), typeof(Darwin.xucred).GetField(nameof(Darwin.xucred.cr_ngroups))!.FieldType);

        FixedBufferAttribute groups = typeof(Darwin.xucred).GetField(nameof(Darwin.xucred.cr_groups))!.GetCustomAttribute<FixedBufferAttribute>()!;
        Assert.Equal(typeof(uint), groups.ElementType);
        Assert.Equal(16, groups.Length);
    }

    [Fact]
    public void Kevent_Is32BytesWithUdataAt24()
    {
        // xnu bsd/sys/event.h declares it under #pragma pack(4); on 64-bit every field is aligned anyway.
        Assert.Equal(32, Unsafe.SizeOf<Darwin.kevent>());
        Assert.Equal(0, Offset<Darwin.kevent>(nameof(Darwin.kevent.ident)));
        Assert.Equal(8, Offset<Darwin.kevent>(nameof(Darwin.kevent.filter)));
        Assert.Equal(10, Offset<Darwin.kevent>(nameof(Darwin.kevent.flags)));
        Assert.Equal(12, Offset<Darwin.kevent>(nameof(Darwin.kevent.fflags)));
        Assert.Equal(16, Offset<Darwin.kevent>(nameof(Darwin.kevent.data)));
        Assert.Equal(24, Offset<Darwin.kevent>(nameof(Darwin.kevent.udata)));
    }

    [Fact]
    public void Stat_Is144BytesWithTheSizeAt96()
    {
        // xnu bsd/sys/stat.h, __DARWIN_STRUCT_STAT64: the 64-bit-inode layout, with 4 bytes of padding after st_rdev.
        Assert.Equal(144, Unsafe.SizeOf<Darwin.stat>());
        Assert.Equal(144, Marshal.SizeOf<Darwin.stat>());
        Assert.Equal(0, Offset<Darwin.stat>(nameof(Darwin.stat.st_dev)));
        Assert.Equal(4, Offset<Darwin.stat>(nameof(Darwin.stat.st_mode)));
        Assert.Equal(6, Offset<Darwin.stat>(nameof(Darwin.stat.st_nlink)));
        Assert.Equal(8, Offset<Darwin.stat>(nameof(Darwin.stat.st_ino)));
        Assert.Equal(16, Offset<Darwin.stat>(nameof(Darwin.stat.st_uid)));
        Assert.Equal(20, Offset<Darwin.stat>(nameof(Darwin.stat.st_gid)));
        Assert.Equal(24, Offset<Darwin.stat>(nameof(Darwin.stat.st_rdev)));
        Assert.Equal(32, Offset<Darwin.stat>(nameof(Darwin.stat.st_atimespec)));
        Assert.Equal(48, Offset<Darwin.stat>(nameof(Darwin.stat.st_mtimespec)));
        Assert.Equal(64, Offset<Darwin.stat>(nameof(Darwin.stat.st_ctimespec)));
        Assert.Equal(80, Offset<Darwin.stat>(nameof(Darwin.stat.st_birthtimespec)));
        Assert.Equal(96, Offset<Darwin.stat>(nameof(Darwin.stat.st_size)));
        Assert.Equal(104, Offset<Darwin.stat>(nameof(Darwin.stat.st_blocks)));
        Assert.Equal(112, Offset<Darwin.stat>(nameof(Darwin.stat.st_blksize)));
        Assert.Equal(116, Offset<Darwin.stat>(nameof(Darwin.stat.st_flags)));
        Assert.Equal(120, Offset<Darwin.stat>(nameof(Darwin.stat.st_gen)));
        Assert.Equal(124, Offset<Darwin.stat>(nameof(Darwin.stat.st_lspare)));
        Assert.Equal(128, Offset<Darwin.stat>(nameof(Darwin.stat.st_qspare)));
        Assert.Equal(typeof(ushort), typeof(Darwin.stat).GetField(nameof(Darwin.stat.st_mode))!.FieldType);
    }

    [Fact]
    public void Timespec_IsTwoLongs()
    {
        Assert.Equal(16, Unsafe.SizeOf<Darwin.timespec>());
        Assert.Equal(8, Offset<Darwin.timespec>(nameof(Darwin.timespec.tv_nsec)));
    }

    [Fact]
    public void CmsgMacros_AlignTo4Bytes_WithA12ByteHeader()
    {
        Assert.Equal(12u, (uint)Darwin.LibC.CMSG_LEN(0));
        Assert.Equal(16u, (uint)Darwin.LibC.CMSG_LEN(4));
        Assert.Equal(16u, (uint)Darwin.LibC.CMSG_SPACE(4));
        Assert.Equal(1020u, (uint)Darwin.LibC.CMSG_SPACE(252 * 4));
        Assert.Equal(8u, (uint)Darwin.LibC.CMSG_ALIGN(5));
        Assert.Equal(ControlMessageLayout.Darwin, Darwin.LibC.ControlMessageLayout);
    }

    [Theory]
    [MemberData(nameof(ConstantNames))]
    public void Constant_Value_MatchesMacOSHeaders(string name)
    {
        FieldInfo? field = typeof(Darwin.LibC).GetField(name, BindingFlags.Public | BindingFlags.Static);

        Assert.NotNull(field);
        Assert.True(field.IsLiteral, $"{name} should be a const");
        Assert.Equal(ExpectedConstants[name], Convert.ToInt64(field.GetRawConstantValue(), CultureInfo.InvariantCulture));
    }

    [Fact]
    public void ExpectedTable_CoversEveryDarwinConstant()
    {
        string[] declared = typeof(Darwin.LibC).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral)
            .Select(f => f.Name)
            .Order(StringComparer.Ordinal)
            .ToArray();

        Assert.Empty(declared.Except(ExpectedConstants.Keys));
        Assert.Equal(ExpectedConstants.Keys.Order(StringComparer.Ordinal), declared);
    }

    private static long Offset<T>(string field) => (long)Marshal.OffsetOf<T>(field);
}
