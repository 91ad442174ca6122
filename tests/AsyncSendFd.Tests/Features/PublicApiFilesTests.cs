namespace AsyncSendFd.Tests;

/// <summary>
/// The PublicAPI.*.txt files are the review surface for every public change (the analyzer fails the build on any
/// difference); kept in ordinal order, a change shows as one line in a diff rather than a reshuffle.
/// </summary>
public sealed class PublicApiFilesTests
{
    public static TheoryData<string> Files() => new(
        Directory.GetFiles(Path.Combine(RepositoryRoot(), "src"), "PublicAPI.*.txt", SearchOption.AllDirectories)
            .Where(path => !path.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !path.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Select(path => Path.GetRelativePath(RepositoryRoot(), path))
            .Order(StringComparer.Ordinal));

    [Theory]
    [MemberData(nameof(Files))]
    public void PublicApiFile_IsSortedOrdinally_WithoutDuplicates(string relativePath)
    {
        string[] entries = File.ReadAllLines(Path.Combine(RepositoryRoot(), relativePath))
            .Where(line => line.Length > 0 && !line.StartsWith('#'))
            .ToArray();

        Assert.Equal(entries.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal), entries);
    }

    private static string RepositoryRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "AsyncSendFd.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No directory above {AppContext.BaseDirectory} contains AsyncSendFd.sln.");
    }
}
