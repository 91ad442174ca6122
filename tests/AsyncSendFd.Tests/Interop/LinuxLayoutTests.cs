using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Text;
using AsyncSendFd.Native.Interop;
using AsyncSendFd.Native.Interop.Unix;
using AsyncSendFd.Tests.Support;
using Xunit.Abstractions;
using Linux = AsyncSendFd.Native.Interop.Linux;

namespace AsyncSendFd.Tests.Interop;

/// <summary>
/// Checks the Linux structs, constants and CMSG_* arithmetic against the C headers of this machine:
/// a C program generated from the C# definitions prints sizeof/offsetof and every constant, and each
/// figure is compared with what the C# code says.
/// </summary>
[SupportedOSPlatform("linux")] // compiles C against the Linux headers
public sealed class LinuxLayoutTests : IClassFixture<LinuxCHeaderFacts>
{
    private readonly LinuxCHeaderFacts _c;
    private readonly ITestOutputHelper _output;

    public LinuxLayoutTests(LinuxCHeaderFacts c, ITestOutputHelper output)
    {
        _c = c;
        _output = output;
    }

    public static TheoryData<string> StructNames() =>
        new(LinuxCHeaderFacts.Structs.Select(s => s.Type.Name));

    public static TheoryData<string, string> StructFields()
    {
        var data = new TheoryData<string, string>();
        foreach ((Type type, _) in LinuxCHeaderFacts.Structs)
        {
            foreach (FieldInfo field in LinuxCHeaderFacts.FieldsOf(type))
            {
                data.Add(type.Name, field.Name);
            }
        }

        return data;
    }

    public static TheoryData<string> ConstantNames() =>
        new(LinuxCHeaderFacts.MeasuredConstants().Select(f => f.Name));

    public static TheoryData<int> DescriptorCounts() => new(LinuxCHeaderFacts.DescriptorCounts);

    [LinuxTheory]
    [MemberData(nameof(StructNames))]
    public void Struct_SizeOf_MatchesCHeader(string name)
    {
        Type type = LinuxCHeaderFacts.StructType(name);

        Assert.Equal(_c.Get($"sizeof {name}"), ManagedSizeOf(type));
        Assert.Equal(_c.Get($"sizeof {name}"), Marshal.SizeOf(type));
    }

    [LinuxTheory]
    [MemberData(nameof(StructFields))]
    public void StructField_Offset_MatchesCHeader(string structName, string fieldName)
    {
        Type type = LinuxCHeaderFacts.StructType(structName);

        Assert.Equal(_c.Get($"offsetof {structName}.{fieldName}"), (long)Marshal.OffsetOf(type, fieldName));
    }

    [LinuxTheory]
    [MemberData(nameof(StructFields))]
    public void StructField_Size_MatchesCHeader(string structName, string fieldName)
    {
        Type type = LinuxCHeaderFacts.StructType(structName);
        long managed = LinuxCHeaderFacts.FieldSize(type.GetField(fieldName)!);
        long native = _c.Get($"fieldsize {structName}.{fieldName}");

        if (_c.Get("glibc") == 1)
        {
            Assert.Equal(native, managed);
        }
        else
        {
            // musl declares msg_iovlen, msg_controllen and cmsg_len as 32-bit with explicit padding, which its own
            // sendmsg and recvmsg zero (include/sys/socket.h, src/network/); the wider C# field must then cover
            // exactly that field and its padding.
            Assert.True(managed >= native, $"{structName}.{fieldName}: C# {managed} bytes, C {native}");
            long end = _c.Get($"offsetof {structName}.{fieldName}") + managed;
            Assert.True(end <= _c.Get($"fieldend {structName}.{fieldName}"), $"{structName}.{fieldName} overlaps the next C field");
        }
    }

    [LinuxFact]
    public unsafe void ManagedFieldOffsets_OfMsghdrCmsghdrUcredIovecPollfd_MatchCHeader()
    {
        // Marshal.OffsetOf reports the marshalling layout; the pointers handed to the kernel use the
        // managed layout. Measure that one directly too.
        Linux.msghdr m = default;
        Assert.Equal(_c.Get("offsetof msghdr.msg_name"), Offset(ref m, ref Unsafe.As<nint, byte>(ref *(nint*)&m.msg_name)));
        Assert.Equal(_c.Get("offsetof msghdr.msg_namelen"), Offset(ref m, ref m.msg_namelen));
        Assert.Equal(_c.Get("offsetof msghdr.msg_iov"), Offset(ref m, ref Unsafe.As<nint, byte>(ref *(nint*)&m.msg_iov)));
        Assert.Equal(_c.Get("offsetof msghdr.msg_iovlen"), Offset(ref m, ref m.msg_iovlen));
        Assert.Equal(_c.Get("offsetof msghdr.msg_control"), Offset(ref m, ref Unsafe.As<nint, byte>(ref *(nint*)&m.msg_control)));
        Assert.Equal(_c.Get("offsetof msghdr.msg_controllen"), Offset(ref m, ref m.msg_controllen));
        Assert.Equal(_c.Get("offsetof msghdr.msg_flags"), Offset(ref m, ref m.msg_flags));
        Assert.Equal(_c.Get("sizeof msghdr"), sizeof(Linux.msghdr));

        Linux.cmsghdr c = default;
        Assert.Equal(_c.Get("offsetof cmsghdr.cmsg_len"), Offset(ref c, ref c.cmsg_len));
        Assert.Equal(_c.Get("offsetof cmsghdr.cmsg_level"), Offset(ref c, ref c.cmsg_level));
        Assert.Equal(_c.Get("offsetof cmsghdr.cmsg_type"), Offset(ref c, ref c.cmsg_type));
        Assert.Equal(_c.Get("sizeof cmsghdr"), sizeof(Linux.cmsghdr));

        Linux.ucred u = default;
        Assert.Equal(_c.Get("offsetof ucred.pid"), Offset(ref u, ref u.pid));
        Assert.Equal(_c.Get("offsetof ucred.uid"), Offset(ref u, ref u.uid));
        Assert.Equal(_c.Get("offsetof ucred.gid"), Offset(ref u, ref u.gid));
        Assert.Equal(_c.Get("sizeof ucred"), sizeof(Linux.ucred));

        iovec v = default;
        Assert.Equal(_c.Get("offsetof iovec.iov_base"), Offset(ref v, ref Unsafe.As<nint, byte>(ref *(nint*)&v.iov_base)));
        Assert.Equal(_c.Get("offsetof iovec.iov_len"), Offset(ref v, ref v.iov_len));
        Assert.Equal(_c.Get("sizeof iovec"), sizeof(iovec));

        pollfd p = default;
        Assert.Equal(_c.Get("offsetof pollfd.fd"), Offset(ref p, ref p.fd));
        Assert.Equal(_c.Get("offsetof pollfd.events"), Offset(ref p, ref p.events));
        Assert.Equal(_c.Get("offsetof pollfd.revents"), Offset(ref p, ref p.revents));
        Assert.Equal(_c.Get("sizeof pollfd"), sizeof(pollfd));
    }

    [LinuxTheory]
    [MemberData(nameof(ConstantNames))]
    public void Constant_Value_MatchesCHeader(string name)
    {
        FieldInfo field = typeof(Linux.LibC).GetField(name, BindingFlags.Public | BindingFlags.Static)!;
        if (_c.FellBackToKernelValue(name))
        {
            _output.WriteLine($"{name}: the C headers here do not define it; compared with the kernel's value instead.");
        }

        Assert.Equal(_c.Get($"const {name}"), Convert.ToInt64(field.GetRawConstantValue(), CultureInfo.InvariantCulture));
    }

    [LinuxFact]
    public void ScmMaxFd_IsTheKernelLimitOf253()
    {
        // SCM_MAX_FD lives in the kernel's include/net/scm.h, which no userspace header exports.
        Assert.Equal(253, Linux.LibC.SCM_MAX_FD);
    }

    [LinuxFact]
    public void PidfdConstants_HaveTheirLinux65Values()
    {
        // Asserted independently of the headers, which lack them before Linux 6.5 / glibc 2.39.
        Assert.Equal(77, Linux.LibC.SO_PEERPIDFD);
        Assert.Equal(76, Linux.LibC.SO_PASSPIDFD);
        Assert.Equal(4, Linux.LibC.SCM_PIDFD);
    }

    [LinuxFact]
    public void MemfdNoexecSeal_HasItsLinux63Value()
    {
        // Asserted independently of the headers, which lack it before Linux 6.3 / glibc 2.38 (include/uapi/linux/memfd.h).
        Assert.Equal(8u, Linux.LibC.MFD_NOEXEC_SEAL);
    }

    [LinuxTheory]
    [MemberData(nameof(DescriptorCounts))]
    public void CmsgMacros_ForNDescriptors_MatchCHeader(int n)
    {
        long cLen = _c.Get($"CMSG_LEN {n}");
        long cSpace = _c.Get($"CMSG_SPACE {n}");
        long cAlign = _c.Get($"CMSG_ALIGN {n}");
        nuint bytes = (nuint)(n * sizeof(int));

        Assert.Equal(cLen, (long)Linux.LibC.CMSG_LEN(bytes));
        Assert.Equal(cSpace, (long)Linux.LibC.CMSG_SPACE(bytes));
        Assert.Equal(cAlign, (long)Linux.LibC.CMSG_ALIGN(bytes));

        ControlMessageLayout layout = Linux.LibC.ControlMessageLayout;
        Assert.Equal(cLen, layout.Length((int)bytes));
        Assert.Equal(cSpace, layout.Space((int)bytes));
        Assert.Equal(cSpace, layout.SpaceForDescriptors(n));
        Assert.Equal(cAlign, layout.Align((int)bytes));
    }

    [LinuxFact]
    public void CmsgMacros_ForNDescriptors_MatchLinux64Layout_OnThis64BitProcess()
    {
        Assert.Equal(8, IntPtr.Size);
        Assert.Equal(ControlMessageLayout.Linux64, Linux.LibC.ControlMessageLayout);
        foreach (int n in LinuxCHeaderFacts.DescriptorCounts)
        {
            Assert.Equal(_c.Get($"CMSG_LEN {n}"), ControlMessageLayout.Linux64.Length(n * sizeof(int)));
            Assert.Equal(_c.Get($"CMSG_SPACE {n}"), ControlMessageLayout.Linux64.SpaceForDescriptors(n));
            Assert.Equal(_c.Get($"CMSG_ALIGN {n}"), ControlMessageLayout.Linux64.Align(n * sizeof(int)));
        }
    }

    [LinuxFact]
    public void ControlMessageLayout_HeaderShape_MatchesCHeader()
    {
        ControlMessageLayout layout = Linux.LibC.ControlMessageLayout;

        Assert.Equal(_c.Get("CMSG_LEN 0"), layout.HeaderSize);
        Assert.Equal(_c.Get("CMSG_ALIGN_1"), layout.Alignment);
        Assert.Equal(_c.Get("offsetof cmsghdr.cmsg_level"), layout.LevelOffset);
        Assert.Equal(_c.Get("offsetof cmsghdr.cmsg_type"), layout.TypeOffset);
        Assert.Equal(_c.Get("const SOL_SOCKET"), layout.SocketLevel);
        Assert.Equal(_c.Get("const SCM_RIGHTS"), layout.RightsType);
    }

    [LinuxFact]
    public void Credentials_CmsgSpace_MatchesCHeader()
    {
        // With SO_PASSCRED every message carries SCM_CREDENTIALS first: the receiver must make room for it.
        Assert.Equal(_c.Get("CMSG_SPACE_UCRED"), Linux.LibC.ControlMessageLayout.Space(Unsafe.SizeOf<Linux.ucred>()));
        Assert.Equal(_c.Get("CMSG_SPACE_UCRED"), (long)Linux.LibC.CMSG_SPACE((nuint)Unsafe.SizeOf<Linux.ucred>()));
    }

    private static long ManagedSizeOf(Type type) =>
        (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(type).Invoke(null, null)!;

    private static long Offset<TStruct, TField>(ref TStruct s, ref TField field) =>
        (long)Unsafe.ByteOffset(ref Unsafe.As<TStruct, byte>(ref s), ref Unsafe.As<TField, byte>(ref field));
}
