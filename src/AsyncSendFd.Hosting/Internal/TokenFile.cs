namespace AsyncSendFd.Hosting.Internal;

/// <summary>
/// The upgrade token file (<see cref="UpgradeOptions.TokenFile"/>): only the owner may read it, and it is always whole
/// (a temporary file created 0600, then renamed over), since a starting successor may read it at any moment.
/// </summary>
internal static class TokenFile
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public static void Write(string path, string token)
    {
        string temporary = $"{path}.{Environment.ProcessId}.tmp";
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, UnixCreateMode = OwnerOnly };
            using (var writer = new StreamWriter(temporary, options))
            {
                writer.Write(token);
            }

            // A file left by an earlier run may have other permissions: Create keeps them.
            File.SetUnixFileMode(temporary, OwnerOnly);
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>The token in the file, or <see langword="null"/> when there is no file (or it may not be read).</summary>
    public static string? Read(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Removes the file if it still holds <paramref name="token"/> (a successor's token is left alone).</summary>
    public static void DeleteIfHolds(string path, string token)
    {
        if (Read(path) == token)
        {
            File.Delete(path);
        }
    }
}
