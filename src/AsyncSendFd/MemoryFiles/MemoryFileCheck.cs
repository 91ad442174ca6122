using System.Text;

namespace AsyncSendFd.MemoryFiles;

/// <summary>The receiver's verdict on a descriptor offered as a memory file, from its facts alone.</summary>
internal static class MemoryFileCheck
{
    /// <summary>Every seal <see cref="FileSeals"/> names.</summary>
    public const FileSeals AllSeals = FileSeals.Seal | FileSeals.Immutable;

    private static readonly (FileSeals Seal, string Name)[] Names =
    [
        (FileSeals.Shrink, nameof(FileSeals.Shrink)),
        (FileSeals.Grow, nameof(FileSeals.Grow)),
        (FileSeals.Write, nameof(FileSeals.Write)),
        (FileSeals.Seal, nameof(FileSeals.Seal)),
    ];

    /// <summary>Why the file must be refused, in one message naming everything missing; null when it passes.</summary>
    public static string? Refusal(MemoryFileFacts facts, FileSeals required, long? expectedLength, MemoryFilePlatform platform)
    {
        if (!facts.IsMemoryFile)
        {
            return $"The descriptor is not a memory file: {platform.WhatIsNotAMemoryFile}.";
        }

        var problems = new StringBuilder();
        FileSeals missing = required & ~facts.Seals;
        if (missing != FileSeals.None)
        {
            problems.Append($"The memory file is not sealed against {Describe(missing)} (its seals: {Describe(facts.Seals)}).");
            FileSeals impossible = missing & ~platform.Enforceable;
            if (impossible != FileSeals.None)
            {
                problems.Append($" {platform.Name} cannot seal a file against {Describe(impossible)}: to accept one from a peer you trust, leave that out of the required seals.");
            }
            else if ((facts.Seals & FileSeals.Seal) != 0)
            {
                problems.Append(" It is sealed against further seals, so it never will be.");
            }
        }

        if (expectedLength is long expected)
        {
            long rounded = RoundUp(expected, platform.SizeGranularity);
            if (facts.Length != rounded)
            {
                problems.Append(problems.Length > 0 ? " It " : "The memory file ");
                problems.Append(rounded == expected
                    ? $"is {facts.Length} bytes, not the {expected} expected."
                    : $"is {facts.Length} bytes, not the {expected} expected ({rounded} once {platform.Name} rounds it up to its page size).");
            }
        }

        return problems.Length > 0 ? problems.ToString() : null;
    }

    /// <summary>"Shrink, Grow, Write", or "none": the names a caller passes.</summary>
    public static string Describe(FileSeals seals)
    {
        if (seals == FileSeals.None)
        {
            return "none";
        }

        var names = new List<string>(4);
        foreach ((FileSeals seal, string name) in Names)
        {
            if ((seals & seal) != 0)
            {
                names.Add(name);
            }
        }

        return string.Join(", ", names);
    }

    private static long RoundUp(long value, long granularity) =>
        granularity <= 1 || value % granularity == 0 ? value : checked(value + granularity - (value % granularity));
}
