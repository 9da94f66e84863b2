import GPUCtlCommands
#if canImport(Glibc)
import Glibc
#endif

// A closed output ends gpuctl as it ends any Unix tool (`gpuctl events | head -1`), even
// when the parent ignored SIGPIPE.
signal(SIGPIPE, SIG_DFL)

GPUCtlCommand.main(GlobalArguments.reorder(Array(CommandLine.arguments.dropFirst())))
