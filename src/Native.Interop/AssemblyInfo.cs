using System.Runtime.CompilerServices;

// Every binding is blittable: the source generator emits direct calls, with no marshalling stubs.
[assembly: DisableRuntimeMarshalling]
