import ArgumentParser

@main
struct Junction: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "junction",
        abstract: "Junction places jobs on compute pools and the network paths to them, together.",
        version: version,
        subcommands: [Demo.self, Simulate.self, ControllerCommand.self, PoolCommand.self, ConfigCommand.self, KeygenCommand.self, Submit.self, Status.self, Queue.self, Cancel.self, Pools.self, Usage.self, LinkCommand.self, Watch.self, Place.self, Routes.self, TopologyCommand.self, SelfCheck.self, Bench.self, ZeroMQPeer.self]
    )
}
