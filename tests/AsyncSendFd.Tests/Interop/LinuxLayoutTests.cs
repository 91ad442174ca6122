using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using AsyncSendFd.Native.Interop;
using AsyncSendFd.Native.Interop.Unix;
using Xunit.Abstractions;
using Linux = AsyncSendFd.Native.Interop.Linux;

namespace AsyncSendFd.Tests.Interop;

/// <summary>
/// Checks the Linux structs, constants and CMSG_* arithmetic against the C headers of this machine:
/// a C program generated from the C# definitions prints sizeof/offsetof and every constant, and each
/// figure is compared with what the C# code says.
/// </summary>
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

    [Theory]
    [MemberData(nameof(StructNames))]
    public void Struct_SizeOf_MatchesCHeader(string name)
    {
        Type type = LinuxCHeaderFacts.StructType(name);

        Assert.Equal(_c.Get($"sizeof {name}"), ManagedSizeOf(type));
        Assert.Equal(_c.Get($"sizeof {name}"), Marshal.SizeOf(type));
    }

    [Theory]
    [MemberData(nameof(StructFields))]
    public void StructField_Offset_MatchesCHeader(string structName, string fieldName)
    {
        Type type = LinuxCHeaderFacts.StructType(structName);

        Assert.Equal(_c.Get($"offsetof {structName}.{fieldName}"), (long)Marshal.OffsetOf(type, fieldName));
    }

    [Theory]
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
            // musl declares msg_iovlen, msg_controllen and cmsg_len as 32-bit with explicit padding it zeroes
            // itself (ABI.md); the wider C# field must then cover exactly that field and its padding.
            Assert.True(managed >= native, $"{structName}.{fieldName}: C# {managed} bytes, C {native}");
            long end = _c.Get($"offsetof {structName}.{fieldName}") + managed;
            Assert.True(end <= _c.Get($"fieldend {structName}.{fieldName}"), $"{structName}.{fieldName} overlaps the next C field");
        }
    }

    [Fact]
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

    [Theory]
    [MemberData(nameof(ConstantNames))]
    public void Constant_Value_MatchesCHeader(string name)
    {
        FieldInfo field = typeof(Linux.LibC).GetField(name, BindingFlags.Public | BindingFlags.Static)!;
        if (_c.FellBackToAbiTable(name))
        {
            _output.WriteLine($"{name}: the C headers here do not define it; compared with the ABI.md value instead.");
        }

        Assert.Equal(_c.Get($"const {name}"), Convert.ToInt64(field.GetRawConstantValue(), CultureInfo.InvariantCulture));
    }

    [Fact]
    public void ScmMaxFd_IsTheKernelLimitOf253()
    {
        // SCM_MAX_FD lives in the kernel's include/net/scm.h, which no userspace header exports.
        Assert.Equal(253, Linux.LibC.SCM_MAX_FD);
    }

    [Fact]
    public void PidfdConstants_HaveTheirLinux65Values()
    {
        // Asserted independently of the headers, which lack them before Linux 6.5 / glibc 2.39.
        Assert.Equal(77, Linux.LibC.SO_PEERPIDFD);
        Assert.Equal(76, Linux.LibC.SO_PASSPIDFD);
        Assert.Equal(4, Linux.LibC.SCM_PIDFD);
    }

    [Theory]
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

    [Fact]
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

    [Fact]
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

    [Fact]
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

/// <summary>
/// Compiles, once per test run, a C program that prints the Linux facts the C# bindings claim,
/// and holds its output as "key value" pairs.
/// </summary>
public sealed class LinuxCHeaderFacts : IDisposable
{
    /// <summary>The C# structs measured, with the C type each one mirrors (field names are the C names).</summary>
    internal static readonly (Type Type, string CName)[] Structs =
    [
        (typeof(Linux.msghdr), "struct msghdr"),
        (typeof(Linux.cmsghdr), "struct cmsghdr"),
        (typeof(Linux.ucred), "struct ucred"),
        (typeof(iovec), "struct iovec"),
        (typeof(pollfd), "struct pollfd"),

        // The kernel packs struct epoll_event on x86 and x86-64 only: each machine checks the layout it uses.
        (RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.X86 ? typeof(Linux.epoll_event_packed) : typeof(Linux.epoll_event), "struct epoll_event"),
    ];

    internal static readonly int[] DescriptorCounts = [0, 1, 2, 3, 252];

    /// <summary>
    /// Constants that older headers lack (Linux 6.5+, glibc 2.39+). The C program takes the header's value when
    /// there is one and falls back to these ABI.md values only when the header does not define the name.
    /// </summary>
    private static readonly Dictionary<string, long> AbiFallbacks = new(StringComparer.Ordinal)
    {
        ["SO_PASSPIDFD"] = 76,
        ["SO_PEERPIDFD"] = 77,
        ["SCM_PIDFD"] = 4,
    };

    private readonly string _directory = Directory.CreateTempSubdirectory("asyncsendfd-layout-").FullName;
    private readonly Lazy<(Dictionary<string, long> Values, HashSet<string> Fallbacks)> _facts;

    public LinuxCHeaderFacts()
    {
        // Lazy, so that a missing compiler fails each test with the message below rather than the fixture.
        _facts = new Lazy<(Dictionary<string, long>, HashSet<string>)>(CompileAndRun);
    }

    /// <summary>The public instance fields of a struct, in declaration order.</summary>
    internal static IEnumerable<FieldInfo> FieldsOf(Type type) =>
        type.GetFields(BindingFlags.Public | BindingFlags.Instance).OrderBy(f => (long)Marshal.OffsetOf(type, f.Name));

    /// <summary>Bytes a C# field occupies: pointers and <c>nuint</c> are pointer-sized, fixed buffers count all elements.</summary>
    internal static long FieldSize(FieldInfo field)
    {
        if (field.FieldType.IsPointer)
        {
            return IntPtr.Size;
        }

        FixedBufferAttribute? buffer = field.GetCustomAttribute<FixedBufferAttribute>();
        return buffer is not null
            ? Marshal.SizeOf(buffer.ElementType) * buffer.Length
            : Marshal.SizeOf(field.FieldType);
    }

    internal static Type StructType(string name) => Structs.Single(s => s.Type.Name == name).Type;

    /// <summary>
    /// Every public constant of <see cref="Linux.LibC"/>, so a new constant is covered automatically,
    /// except <c>SCM_MAX_FD</c>, which is kernel-internal (include/net/scm.h) and asserted on its own.
    /// </summary>
    internal static IEnumerable<FieldInfo> MeasuredConstants() =>
        typeof(Linux.LibC).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.Name != nameof(Linux.LibC.SCM_MAX_FD))
            .OrderBy(f => f.Name, StringComparer.Ordinal);

    public long Get(string key) =>
        _facts.Value.Values.TryGetValue(key, out long value)
            ? value
            : throw new KeyNotFoundException($"The C program printed no '{key}'. Source: {Path.Combine(_directory, "facts.c")}");

    public bool FellBackToAbiTable(string constant) => _facts.Value.Fallbacks.Contains(constant);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temporary directory is harmless.
        }
    }

    internal static string GenerateSource()
    {
        var c = new StringBuilder();
        c.AppendLine("#define _GNU_SOURCE /* struct ucred */");
        c.AppendLine("#include <errno.h>");
        c.AppendLine("#include <fcntl.h>");
        c.AppendLine("#include <poll.h>");
        c.AppendLine("#include <stddef.h>");
        c.AppendLine("#include <stdio.h>");
        c.AppendLine("#include <sys/epoll.h>");
        c.AppendLine("#include <sys/eventfd.h>");
        c.AppendLine("#include <sys/socket.h>");
        c.AppendLine("#include <sys/uio.h>");
        c.AppendLine("#include <sys/un.h>");
        c.AppendLine();
        foreach ((string name, long value) in AbiFallbacks.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            // Headers older than Linux 6.5 / glibc 2.39 lack these; only then use the value from ABI.md.
            c.AppendLine(CultureInfo.InvariantCulture, $"#ifndef {name}");
            c.AppendLine(CultureInfo.InvariantCulture, $"#define {name} {value}");
            c.AppendLine(CultureInfo.InvariantCulture, $"#define FALLBACK_{name} 1");
            c.AppendLine("#endif");
        }

        c.AppendLine();
        c.AppendLine("int main(void)");
        c.AppendLine("{");
        c.AppendLine("#ifdef __GLIBC__");
        c.AppendLine("    printf(\"glibc 1\\n\");");
        c.AppendLine("#else");
        c.AppendLine("    printf(\"glibc 0\\n\");");
        c.AppendLine("#endif");
        foreach ((Type type, string cName) in Structs)
        {
            c.AppendLine(CultureInfo.InvariantCulture, $"    printf(\"sizeof {type.Name} %zu\\n\", sizeof({cName}));");
            FieldInfo[] fields = FieldsOf(type).ToArray();
            for (int i = 0; i < fields.Length; i++)
            {
                string name = fields[i].Name;
                string end = i + 1 < fields.Length ? $"offsetof({cName}, {fields[i + 1].Name})" : $"sizeof({cName})";
                c.AppendLine(CultureInfo.InvariantCulture,
                    $"    printf(\"offsetof {type.Name}.{name} %zu\\n\", offsetof({cName}, {name}));");
                c.AppendLine(CultureInfo.InvariantCulture,
                    $"    printf(\"fieldsize {type.Name}.{name} %zu\\n\", sizeof((({cName} *)0)->{name}));");
                c.AppendLine(CultureInfo.InvariantCulture, $"    printf(\"fieldend {type.Name}.{name} %zu\\n\", (size_t){end});");
            }
        }

        foreach (FieldInfo constant in MeasuredConstants())
        {
            c.AppendLine(CultureInfo.InvariantCulture, $"    printf(\"const {constant.Name} %lld\\n\", (long long)({constant.Name}));");
            if (AbiFallbacks.ContainsKey(constant.Name))
            {
                c.AppendLine(CultureInfo.InvariantCulture, $"#ifdef FALLBACK_{constant.Name}");
                c.AppendLine(CultureInfo.InvariantCulture, $"    printf(\"fallback {constant.Name} 1\\n\");");
                c.AppendLine("#endif");
            }
        }

        foreach (int n in DescriptorCounts)
        {
            c.AppendLine(CultureInfo.InvariantCulture, $"    printf(\"CMSG_LEN {n} %zu\\n\", (size_t)CMSG_LEN({n} * sizeof(int)));");
            c.AppendLine(CultureInfo.InvariantCulture, $"    printf(\"CMSG_SPACE {n} %zu\\n\", (size_t)CMSG_SPACE({n} * sizeof(int)));");
            c.AppendLine(CultureInfo.InvariantCulture, $"    printf(\"CMSG_ALIGN {n} %zu\\n\", (size_t)CMSG_ALIGN({n} * sizeof(int)));");
        }

        c.AppendLine("    printf(\"CMSG_ALIGN_1 %zu\\n\", (size_t)CMSG_ALIGN(1));");
        c.AppendLine("    printf(\"CMSG_SPACE_UCRED %zu\\n\", (size_t)CMSG_SPACE(sizeof(struct ucred)));");
        c.AppendLine("    return 0;");
        c.AppendLine("}");
        return c.ToString();
    }

    private (Dictionary<string, long>, HashSet<string>) CompileAndRun()
    {
        string compiler = FindOnPath("cc") ?? throw new InvalidOperationException(
            "The layout tests compile C, but no 'cc' was found on PATH. Install a C compiler " +
            "(Debian/Ubuntu: apt-get install gcc libc6-dev) and run the tests again.");
        string source = Path.Combine(_directory, "facts.c");
        string binary = Path.Combine(_directory, "facts");
        File.WriteAllText(source, GenerateSource());

        (int compileExit, string _, string compileErrors) = Run(compiler, "-std=gnu11", "-Wall", "-o", binary, source);
        if (compileExit != 0)
        {
            throw new InvalidOperationException(
                $"cc could not compile the generated layout program {source} (a C# name with no C counterpart?):{Environment.NewLine}{compileErrors}");
        }

        (int exit, string output, string errors) = Run(binary);
        if (exit != 0)
        {
            throw new InvalidOperationException($"The layout program exited with {exit}: {errors}");
        }

        var values = new Dictionary<string, long>(StringComparer.Ordinal);
        var fallbacks = new HashSet<string>(StringComparer.Ordinal);
        foreach (string line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            int space = line.LastIndexOf(' ');
            string key = line[..space];
            long value = long.Parse(line[(space + 1)..], NumberStyles.Integer, CultureInfo.InvariantCulture);
            if (key.StartsWith("fallback ", StringComparison.Ordinal))
            {
                fallbacks.Add(key["fallback ".Length..]);
            }
            else
            {
                values.Add(key, value);
            }
        }

        return (values, fallbacks);
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);

    private static (int ExitCode, string Output, string Errors) Run(string fileName, params string[] arguments)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> errors = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} did not finish within two minutes.");
        }

        return (process.ExitCode, output.GetAwaiter().GetResult(), errors.GetAwaiter().GetResult());
    }
}
