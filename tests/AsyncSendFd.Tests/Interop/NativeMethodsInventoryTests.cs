// Reflection over the Darwin types only reads names; nothing here calls into macOS.
#pragma warning disable CA1416

using System.Reflection;
using AsyncSendFd.Native.Interop;

namespace AsyncSendFd.Tests.Interop;

/// <summary>
/// Keeps NativeMethods.txt, the inventory of every libc name the interop layer binds, in step with the code
/// both ways: every bound name is listed, every listed name is bound, and each group is sorted.
/// </summary>
public sealed class NativeMethodsInventoryTests
{
    private const string InteropNamespace = "AsyncSendFd.Native.Interop";
    private static readonly string[] PlatformNamespaces = [$"{InteropNamespace}.Unix", $"{InteropNamespace}.Linux", $"{InteropNamespace}.Darwin"];

    [Fact]
    public void EveryBoundName_IsListedInNativeMethodsTxt()
    {
        HashSet<string> listed = ListedNames().ToHashSet(StringComparer.Ordinal);

        string[] missing = BoundNames().Keys.Where(name => !listed.Contains(name)).Order(StringComparer.Ordinal).ToArray();

        Assert.True(missing.Length == 0,
            $"Bound in src/Native.Interop but missing from NativeMethods.txt: {string.Join(", ", missing.Select(n => $"{n} ({BoundNames()[n]})"))}");
    }

    [Fact]
    public void EveryListedName_IsBoundInTheInteropLayer()
    {
        Dictionary<string, string> bound = BoundNames();

        string[] unbound = ListedNames().Where(name => !bound.ContainsKey(name)).ToArray();

        Assert.True(unbound.Length == 0, $"Listed in NativeMethods.txt but bound nowhere: {string.Join(", ", unbound)}");
    }

    [Fact]
    public void NativeMethodsTxt_ListsEachNameOnce()
    {
        string[] duplicates = ListedNames().GroupBy(n => n, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToArray();

        Assert.True(duplicates.Length == 0, $"Listed more than once: {string.Join(", ", duplicates)}");
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
    public void InteropPlatformNamespaces_HoldOnlyLibCClassesAndStructs()
    {
        // The inventory covers LibC members and struct names; a new kind of public type needs a decision here.
        Type[] others = PlatformTypes().Where(t => !IsLibC(t) && !IsStruct(t)).ToArray();

        Assert.Empty(others);
        Assert.Equal(3, PlatformTypes().Count(IsLibC));
    }

    /// <summary>Every name the interop layer binds, with where it is bound (for the failure message).</summary>
    private static Dictionary<string, string> BoundNames()
    {
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (Type type in PlatformTypes())
        {
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

        return names;
    }

    /// <summary>
    /// The public top-level types of the platform namespaces. Nested types are left out: the compiler makes the
    /// fixed buffer of xucred.cr_groups a public nested struct, which is no C name.
    /// </summary>
    private static IEnumerable<Type> PlatformTypes() =>
        typeof(ControlMessageLayout).Assembly.GetExportedTypes().Where(t => !t.IsNested && PlatformNamespaces.Contains(t.Namespace));

    private static bool IsLibC(Type type) => type.Name == "LibC" && type.IsAbstract && type.IsSealed;

    private static bool IsStruct(Type type) => type.IsValueType && !type.IsEnum;

    private static IEnumerable<string> ListedNames() => Groups().SelectMany(g => g.Names);

    /// <summary>Runs of names separated by blank lines, each named by the comment line above it.</summary>
    private static List<(string Header, List<string> Names)> Groups()
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
