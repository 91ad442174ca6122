using System.Diagnostics;

namespace AsyncSendFd.Hosting.Internal;

/// <summary>Starts "this program again": what tableflip and nginx do with argv[0].</summary>
internal static class SuccessorProcess
{
    public static ProcessStartInfo SameProgram()
    {
        // GetCommandLineArgs()[0] is the app's own path (the .dll under `dotnet app.dll`, the binary otherwise).
        string[] commandLine = Environment.GetCommandLineArgs();
        string processPath = Environment.ProcessPath ?? throw new InvalidOperationException("This process's executable is unknown.");
        var start = new ProcessStartInfo(processPath) { UseShellExecute = false };
        bool hostedByDotnet = Path.GetFileNameWithoutExtension(processPath) == "dotnet"
            && commandLine.Length > 0 && commandLine[0].EndsWith(".dll", StringComparison.OrdinalIgnoreCase);
        if (hostedByDotnet)
        {
            start.ArgumentList.Add(commandLine[0]);
        }

        foreach (string argument in commandLine.Skip(1))
        {
            start.ArgumentList.Add(argument);
        }

        return start;
    }
}
