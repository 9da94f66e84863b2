import GPUCtlCommands

GPUCtlCommand.main(GlobalArguments.reorder(Array(CommandLine.arguments.dropFirst())))
