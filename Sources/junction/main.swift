import ArgumentParser
import ClientCommands
import Glibc

/// The commands a user types most, one request of a running controller each, run here: this
/// executable links neither Foundation nor the server libraries, so it starts in milliseconds.
/// Every other command (the daemons, the demo, the simulator, topology tools, help for all of
/// them) is handed to junction-full, the whole command set, installed beside it, and `junction
/// bench` to junction-bench.
struct QuickJunction: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "junction",
        abstract: "Junction places jobs on compute pools and the network paths to them, together.",
        subcommands: ControllerClientCommands.all
    )
}

let arguments = Array(CommandLine.arguments.dropFirst())
if let first = arguments.first, ControllerClientCommands.all.contains(where: { $0._commandName == first }) {
    ProcessLifetime.leaveConnectionsToExit()
    await QuickJunction.runAsRoot(arguments)
}
// The version alone needs nothing of the whole command set.
if arguments == ["--version"] {
    print(ControllerClientCommands.version)
    exit(0)
}
if arguments.first == "bench" {
    runSibling("junction-bench", Array(arguments.dropFirst()), command: "junction bench")
}
runSibling("junction-full", arguments, command: "junction \(arguments.first ?? "--help")")
