using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Text;
using AsyncSendFd.Native.Interop;
using AsyncSendFd.Native.Interop.Unix;
using Xunit.Abstractions;
using Linux = AsyncSendFd.Native.Interop.Linux;

namespace AsyncSendFd.Tests.Support;

/// <summary>
/// Compiles, once per test run, a C program that prints the Linux facts the C# bindings claim,
/// and holds its output as "key value" pairs.
/// </summary>
[SupportedOSPlatform("linux")]
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
    /// Constants that older headers lack (Linux 6.3+ and 6.5+, glibc 2.38+ and 2.39+). The C program takes the header's
    /// value when there is one and falls back to these values, the kernel's (its include/uapi headers and
    /// include/linux/socket.h), only when the header does not define the name.
    /// </summary>
    private static readonly Dictionary<string, long> KernelFallbacks = new(StringComparer.Ordinal)
    {
        ["SO_PASSPIDFD"] = 76,
        ["SO_PEERPIDFD"] = 77,
        ["SCM_PIDFD"] = 4,
        ["MFD_NOEXEC_SEAL"] = 8, // Linux 6.3, glibc 2.38
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

    public bool FellBackToKernelValue(string constant) => _facts.Value.Fallbacks.Contains(constant);

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
        c.AppendLine("#include <sys/mman.h>");
        c.AppendLine("#include <sys/socket.h>");
        c.AppendLine("#include <sys/uio.h>");
        c.AppendLine("#include <sys/un.h>");
        c.AppendLine();
        foreach ((string name, long value) in KernelFallbacks.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            // Headers older than Linux 6.3 or 6.5 / glibc 2.38 or 2.39 lack these; only then use the kernel's value.
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
            if (KernelFallbacks.ContainsKey(constant.Name))
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
