using System.Globalization;

namespace AsyncSendFd.Hosting.Internal;

/// <summary>The PID file: always whole, because readers (systemd, kill -HUP $(cat ...)) may look at any moment.</summary>
internal static class PidFile
{
    /// <summary>Writes this process's id to a temporary file beside <paramref name="path"/>, then renames it over.</summary>
    public static void Write(string path)
    {
        string temporary = $"{path}.{Environment.ProcessId}.tmp";
        try
        {
            File.WriteAllText(temporary, Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>Removes the file if it still names this process (a successor's file is left alone).</summary>
    public static void DeleteIfOurs(string path)
    {
        try
        {
            if (int.TryParse(File.ReadAllText(path).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && pid == Environment.ProcessId)
            {
                File.Delete(path);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Gone already, or not ours to remove: nothing to clean.
        }
    }
}
