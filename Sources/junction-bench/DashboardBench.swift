import ArgumentParser
import ClientCommands
import CommandLineSupport
import ControllerCore
import Foundation
import Logging
import Observability
import Services
import Topology
import TopologyWire
import Wire
import ZeroMQ

/// `junction bench dashboard`: the load a browser is measured against.
struct DashboardBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Serve the dashboard of a controller holding many pools and active jobs, until standard input closes.",
        discussion: """
        Starts a controller in this process on the Cogent network with synthetic pools, pool \
        connections that register as them and advertise once, and submits jobs that stay active \
        (the pools never answer their dispatches). It then prints the dashboard's URL and the \
        clients endpoint and serves until standard input closes. Tests/Browser/dashboard_bench.py \
        runs it and measures the page in headless Chromium: load time, render time, and how long \
        a job submitted meanwhile takes to appear.
        """
    )

    @Option(help: "A topology file for the controller.")
    var topology = "Topologies/cogentco.yaml"

    @Option(help: "Pools to connect.")
    var pools = 1_000

    @Option(help: "Jobs to submit; they stay active.")
    var jobs = 10_000

    func validate() throws {
        try checkRanges([("--pools", Double(pools), 1, 100_000), ("--jobs", Double(jobs), 0, 1_000_000)])
    }

    func run() throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .error
            return handler
        }
        let network = try loadTopology(topology, quiet: true).withSyntheticPools(pools, seed: 1)
        let export = PrometheusExport(help: ControllerMetrics.help, durationBuckets: ControllerMetrics.durationBuckets)
        let controller = try BenchController(network: network, topology: topology, store: .sqlite, keys: nil, metrics: export)
        defer { controller.close() }
        let server = AdminServer(address: AdminAddress(host: "127.0.0.1", port: 0), source: ControllerAdmin(service: controller.service, export: export), logger: quietLogger())
        let serving = Task { try await server.run() }
        defer { serving.cancel() }
        guard let port = waitFor({ await server.port() }) else { throw CommandFailure("the admin endpoint could not listen on 127.0.0.1") }

        var advertisements: [(pool: Int, bytes: [UInt8])] = []
        for (index, pool) in network.pools.enumerated() {
            var advertisement = Junction_V1_Advertisement()
            advertisement.poolID = pool.id
            advertisement.sequence = 2
            advertisement.free = pool.capacity.wire
            advertisement.total = pool.capacity.wire
            advertisements.append((index, try WireMessage(.advertisement(advertisement)).serialized()))
        }
        _ = try controller.intake(advertisements)
        printError("submitting \(jobs) jobs")
        let rate = jobs > 0 ? try pipelinedSubmitRate(client: controller.client, network: network, count: jobs) : 0
        print("dashboard http://127.0.0.1:\(port)/")
        print("clients \(controller.service.endpoints.clients)")
        print("ready: \(network.pools.count) pools, \(jobs) active jobs (submitted at \(Int(rate))/s)")
        fflush(nil)
        while readLine() != nil {}
    }
}
