import ArgumentParser
import ClientCommands

/// The whole command set; `junction` runs the controller's client commands itself and hands
/// the rest here.
@main
struct Junction: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "junction",
        abstract: "Junction places jobs on compute pools and the network paths to them, together.",
        version: ControllerClientCommands.version,
        subcommands: [Demo.self, Simulate.self, ControllerCommand.self, PoolCommand.self, ConfigCommand.self, KeygenCommand.self]
            + ControllerClientCommands.all + [Place.self, Routes.self, TopologyCommand.self, SelfCheck.self, BenchListing.self, ZeroMQPeer.self]
    )
}

/// `junction bench` in the list of commands: the benchmarks are a program of their own,
/// junction-bench, which `junction bench` runs in this process's place.
struct BenchListing: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure Junction against baselines in the same run (junction-bench; see 'junction bench --help')."
    )

    @Argument(parsing: .allUnrecognized, help: "The benchmark and its options.")
    var arguments: [String] = []

    func run() {
        runSibling("junction-bench", arguments, command: "junction bench")
    }
}
