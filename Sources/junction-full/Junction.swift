import ArgumentParser
import ClientCommands

/// The whole command set; `junction` runs the controller's client commands itself and hands
/// the rest here.
@main
struct Junction: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "junction",
        abstract: "Junction places jobs on compute pools and the network paths to them, together.",
        version: version,
        subcommands: [Demo.self, Simulate.self, ControllerCommand.self, PoolCommand.self, ConfigCommand.self, KeygenCommand.self]
            + ControllerClientCommands.all + [Place.self, Routes.self, TopologyCommand.self, SelfCheck.self, Bench.self, ZeroMQPeer.self]
    )
}
