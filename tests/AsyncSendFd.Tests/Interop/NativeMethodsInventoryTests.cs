// Reflection over the Darwin types only reads names; nothing here calls into macOS.
#pragma warning disable CA1416

using System.Reflection;
using System.Text.RegularExpressions;
using AsyncSendFd.Native.Interop;

namespace AsyncSendFd.Tests.Interop;

/// <summary>
/// Keeps NativeMethods.txt, the inventory of every libc name the interop layer binds, in step with the code
/// both ways and file by file: each group names one source file (one C header on one platform), lists exactly
/// the names that file declares, and is sorted; every name bound in a platform's namespace is listed in a group
/// of that platform's folder, and every listed name is bound there.
/// </summary>
public sealed partial class NativeMethodsInventoryTests
{
    private const string InteropNamespace = "AsyncSendFd.Native.Interop";

    /// <summary>The platform folders of src/Native.Interop, each its own namespace, with the platform its groups name.</summary>
    private static readonly Dictionary<string, string> PlatformOfFolder = new(StringComparer.Ordinal)
    {
        ["Unix"] = "Linux and macOS",
        ["Linux"] = "Linux",
        ["Darwin"] = "macOS",
    };

    /// <summary>The file in each platform folder that declares the class itself (docs, platforms), not a header's names.</summary>
    private const string ClassFile = "LibC.cs";

    [Fact]
    public void EveryBoundName_IsListedInNativeMethodsTxt_UnderItsPlatform()
    {
        var missing = new List<string>();
        foreach ((string folder, Dictionary<string, string> bound) in BoundNames())
        {
            HashSet<string> listed = ListedNames(folder).ToHashSet(StringComparer.Ordinal);
            missing.AddRange(bound.Where(b => !listed.Contains(b.Key)).Select(b => $"{b.Key} ({b.Value})"));
        }

        Assert.True(missing.Count == 0,
            $"Bound in src/Native.Interop but missing from NativeMethods.txt under its platform's folder: {string.Join(", ", missing.Order(StringComparer.Ordinal))}");
    }

    [Fact]
    public void EveryListedName_IsBoundInTheInteropLayer_UnderItsPlatform()
    {
        var unbound = new List<string>();
        foreach ((string folder, Dictionary<string, string> bound) in BoundNames())
        {
            unbound.AddRange(ListedNames(folder).Where(name => !bound.ContainsKey(name)).Select(name => $"{name} ({folder}/)"));
        }

        Assert.True(unbound.Count == 0, $"Listed in NativeMethods.txt but bound nowhere in that folder's namespace: {string.Join(", ", unbound)}");
    }

    [Fact]
    public void NativeMethodsTxt_ListsEachNameOncePerPlatform()
    {
        // A name both platforms define (SOL_SOCKET, msghdr, sendmsg) is bound twice, once per namespace with its own
        // value or layout, and so listed in each platform's group; within one platform it is bound, and listed, once.
        foreach (string folder in PlatformOfFolder.Keys)
        {
            string[] duplicates = ListedNames(folder).GroupBy(n => n, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToArray();

            Assert.True(duplicates.Length == 0, $"Listed more than once under {folder}/: {string.Join(", ", duplicates)}");
        }
    }

    [Fact]
    public void NativeMethodsTxt_EachGroupIsSortedOrdinally()
    {
        foreach ((string header, List<string> names) in Groups())
        {
            string[] sorted = names.Order(StringComparer.Ordinal).ToArray();
            Assert.True(sorted.SequenceEqual(names, StringComparer.Ordinal),
                $"Group '{header}' is not in ordinal order. Expected:{Environment.NewLine}{string.Join(Environment.NewLine, sorted)}");
        }
    }

    [Fact]
    public void NativeMethodsTxt_HasOneBareNamePerLine()
    {
        foreach (string line in File.ReadAllLines(InventoryPath()))
        {
            string trimmed = line.Trim();
            if (trimmed.Length == 0 || trimmed.StartsWith("//", StringComparison.Ordinal))
            {
                continue;
            }

            Assert.True(trimmed == line && trimmed.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'), $"Not a bare C name: '{line}'");
        }
    }

    [Fact]
    public void NativeMethodsTxt_EachGroupNamesItsFileHeaderAndPlatform()
    {
        var files = new HashSet<string>(StringComparer.Ordinal);
        foreach ((string comment, _) in Groups())
        {
            Match match = GroupComment().Match(comment);
            Assert.True(match.Success, $"A group's comment must read '// Folder/file.cs: <header.h>, platform.': '{comment}'");

            string folder = match.Groups["folder"].Value;
            string file = match.Groups["file"].Value;
            Assert.True(File.Exists(Path.Combine(InteropSourcePath(), folder, file + ".cs")), $"'{comment}' names a file that does not exist");
            Assert.True(files.Add($"{folder}/{file}"), $"Two groups name {folder}/{file}.cs");

            // The file is named after its header, as in Tmds.LibC: socket.cs holds <sys/socket.h>.
            Assert.Equal(file + ".h", Path.GetFileName(match.Groups["header"].Value.Trim('<', '>')));
            Assert.Equal(PlatformOfFolder[folder], match.Groups["platform"].Value);
        }
    }

    [Fact]
    public void EveryHeaderFile_HasAGroupInNativeMethodsTxt()
    {
        HashSet<string> grouped = Groups().Select(g => FileOfGroup(g.Comment)).ToHashSet(StringComparer.Ordinal);

        string[] ungrouped = HeaderFiles().Where(f => !grouped.Contains(f)).ToArray();

        Assert.True(ungrouped.Length == 0, $"Source files in src/Native.Interop with no group in NativeMethods.txt: {string.Join(", ", ungrouped)}");
    }

    [Fact]
    public void EachGroup_ListsExactlyTheNamesItsFileDeclares()
    {
        foreach ((string comment, List<string> names) in Groups())
        {
            string file = FileOfGroup(comment);
            string[] declared = DeclaredNames(file).Order(StringComparer.Ordinal).ToArray();

            Assert.True(declared.SequenceEqual(names.Order(StringComparer.Ordinal), StringComparer.Ordinal),
                $"{file} declares {string.Join(", ", declared)}; its group in NativeMethods.txt lists {string.Join(", ", names)}");
        }
    }

    [Fact]
    public void ClassFiles_DeclareNoCName()
    {
        // LibC.cs holds each class's documentation and platforms; Unix/LibC.cs also the library name ("libc").
        foreach (string folder in PlatformOfFolder.Keys)
        {
            string[] declared = DeclaredNames($"{folder}/{ClassFile}").Where(n => n != nameof(Native.Interop.Unix.LibC.Name)).ToArray();

            Assert.True(declared.Length == 0, $"{folder}/{ClassFile} declares C names, which belong in their header's file: {string.Join(", ", declared)}");
        }
    }

    [Fact]
    public void SourceScan_FindsWhatReflectionFinds()
    {
        // The file-by-file checks read declarations from the source text; this proves that reading misses nothing
        // and invents nothing, against the compiled assembly, one platform namespace at a time.
        foreach ((string folder, Dictionary<string, string> bound) in BoundNames())
        {
            string[] scanned = HeaderFiles().Where(f => f.StartsWith(folder + "/", StringComparison.Ordinal))
                .SelectMany(DeclaredNames).Order(StringComparer.Ordinal).ToArray();

            Assert.Equal(bound.Keys.Order(StringComparer.Ordinal), scanned);
        }
    }

    [Fact]
    public void InteropPlatformNamespaces_HoldOnlyLibCClassesAndStructs()
    {
        // The inventory covers LibC members and struct names; a new kind of public type needs a decision here.
        Type[] others = PlatformTypes().Where(t => !IsLibC(t) && !IsStruct(t)).ToArray();

        Assert.Empty(others);
        Assert.Equal(3, PlatformTypes().Count(IsLibC));
    }

    /// <summary>Per platform folder, every name its namespace binds, with where it is bound (for the failure message).</summary>
    private static Dictionary<string, Dictionary<string, string>> BoundNames()
    {
        var byFolder = PlatformOfFolder.Keys.ToDictionary(f => f, _ => new Dictionary<string, string>(StringComparer.Ordinal), StringComparer.Ordinal);
        foreach (Type type in PlatformTypes())
        {
            Dictionary<string, string> names = byFolder[type.Namespace![(InteropNamespace.Length + 1)..]];
            if (IsStruct(type))
            {
                names.TryAdd(type.Name, type.FullName!);
            }

            foreach (FieldInfo field in type.GetFields(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly))
            {
                // Unix.LibC.Name is the library name handed to LibraryImport ("libc"), not a name from the C library.
                if (field.IsLiteral && !(IsLibC(type) && field.Name == nameof(Native.Interop.Unix.LibC.Name)))
                {
                    names.TryAdd(field.Name, $"{type.FullName}.{field.Name}");
                }
            }

            if (IsLibC(type))
            {
                // Property getters are special names: the ControlMessageLayout property is the library's own helper,
                // not a C name, and drops out here. Private imports (fcntl's entry points) are not public.
                foreach (MethodInfo method in type.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly))
                {
                    if (!method.IsSpecialName)
                    {
                        names.TryAdd(method.Name, $"{type.FullName}.{method.Name}()");
                    }
                }
            }
        }

        return byFolder;
    }

    /// <summary>
    /// The public top-level types of the platform namespaces. Nested types are left out: the compiler makes the
    /// fixed buffer of xucred.cr_groups a public nested struct, which is no C name.
    /// </summary>
    private static IEnumerable<Type> PlatformTypes() =>
        typeof(ControlMessageLayout).Assembly.GetExportedTypes()
            .Where(t => !t.IsNested && PlatformOfFolder.Keys.Any(f => t.Namespace == $"{InteropNamespace}.{f}"));

    private static bool IsLibC(Type type) => type.Name == "LibC" && type.IsAbstract && type.IsSealed;

    private static bool IsStruct(Type type) => type.IsValueType && !type.IsEnum;

    /// <summary>The names listed in the groups of one platform folder.</summary>
    private static IEnumerable<string> ListedNames(string folder) =>
        Groups().Where(g => FileOfGroup(g.Comment).StartsWith(folder + "/", StringComparison.Ordinal)).SelectMany(g => g.Names);

    /// <summary>"Folder/file.cs" from a group's comment; the format itself is checked by its own test.</summary>
    private static string FileOfGroup(string comment)
    {
        Match match = GroupComment().Match(comment);
        return match.Success ? $"{match.Groups["folder"].Value}/{match.Groups["file"].Value}.cs" : comment;
    }

    /// <summary>Every source file of the platform folders but the class files: each holds one C header's names.</summary>
    private static IEnumerable<string> HeaderFiles() =>
        PlatformOfFolder.Keys.SelectMany(folder =>
            Directory.EnumerateFiles(Path.Combine(InteropSourcePath(), folder), "*.cs")
                .Select(Path.GetFileName)
                .Where(name => name != ClassFile)
                .Select(name => $"{folder}/{name}"))
            .Order(StringComparer.Ordinal);

    /// <summary>
    /// The public C names a source file declares: structs, constants and static methods. The interop layer writes
    /// each on one line in these few forms; <see cref="SourceScan_FindsWhatReflectionFinds"/> proves none is missed.
    /// </summary>
    private static IEnumerable<string> DeclaredNames(string file)
    {
        IEnumerable<string> code = File.ReadLines(Path.Combine(InteropSourcePath(), file))
            .Where(line => !line.TrimStart().StartsWith("//", StringComparison.Ordinal));
        return code.SelectMany(line => Declaration().Matches(line)).Select(m => m.Groups["name"].Value).Distinct(StringComparer.Ordinal);
    }

    [GeneratedRegex(@"^// (?<folder>Unix|Linux|Darwin)/(?<file>\w+)\.cs: (?<header><[\w/]+\.h>|[\w/]+\.h), (?<platform>Linux and macOS|Linux|macOS)\.( .+)?$")]
    private static partial Regex GroupComment();

    [GeneratedRegex(@"\bpublic (?:unsafe )?struct (?<name>\w+)|\bpublic const \w+ (?<name>\w+) =|\bpublic static (?:unsafe )?(?:partial )?[\w.]+\** (?<name>\w+)\(")]
    private static partial Regex Declaration();

    /// <summary>Runs of names separated by blank lines, each named by the comment line above it.</summary>
    private static List<(string Comment, List<string> Names)> Groups()
    {
        var groups = new List<(string, List<string>)>();
        string header = "(top)";
        List<string>? current = null;
        foreach (string raw in File.ReadAllLines(InventoryPath()))
        {
            string line = raw.Trim();
            if (line.Length == 0)
            {
                current = null;
            }
            else if (line.StartsWith("//", StringComparison.Ordinal))
            {
                header = line;
                current = null;
            }
            else
            {
                if (current is null)
                {
                    current = [];
                    groups.Add((header, current));
                }

                current.Add(line);
            }
        }

        return groups;
    }

    private static string InteropSourcePath() => Path.Combine(Path.GetDirectoryName(InventoryPath())!, "src", "Native.Interop");

    private static string InventoryPath()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "AsyncSendFd.sln")))
            {
                return Path.Combine(dir.FullName, "NativeMethods.txt");
            }
        }

        throw new InvalidOperationException($"No directory above {AppContext.BaseDirectory} contains AsyncSendFd.sln.");
    }
}
