using System.Runtime.Versioning;

// SCM_RIGHTS over socketpair(2): the benchmarks run on Linux only (the raw floors call the Linux bindings).
[assembly: SupportedOSPlatform("linux")]
