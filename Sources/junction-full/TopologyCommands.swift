import ArgumentParser
import ClientCommands
import CommandLineSupport
import Foundation
import Routing
import Topology
import Yams

/// `junction topology`: check, describe and import topology files.
struct TopologyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topology",
        abstract: "Validate, show and import topology files.",
        subcommands: [ValidateTopology.self, ShowTopology.self, ImportTopology.self]
    )
}

/// A topology problem as JSON.
struct ProblemJSON: Encodable {
    var severity: String
    var code: String
    var file: String
    var line: Int
    var column: Int
    var message: String

    init(_ problem: TopologyProblem) {
        severity = problem.severity.rawValue
        code = problem.code.rawValue
        file = problem.location.file
        line = problem.location.line
        column = problem.location.column
        message = problem.message
    }
}

struct ValidateTopology: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check topology files; exit 0 only when every file is valid.",
        discussion: "Every problem is listed as file:line:column. Warnings are printed but do not fail a file."
    )

    @Argument(help: "Topology files (YAML).")
    var files: [String]

    @Flag(help: "Print the results as JSON.")
    var json = false

    struct FileResult: Encodable {
        var file: String
        var valid: Bool
        var nodes: Int?
        var links: Int?
        var pools: Int?
        var problems: [ProblemJSON]
    }

    func run() throws {
        var results: [FileResult] = []
        for file in files {
            do {
                let loaded = try Topology.load(contentsOf: file)
                let topology = loaded.topology
                results.append(FileResult(file: file, valid: true, nodes: topology.nodes.count, links: topology.links.count, pools: topology.pools.count, problems: loaded.warnings.map(ProblemJSON.init)))
                if !json {
                    for warning in loaded.warnings { print(warning) }
                    print("\(file): valid: \(topology.nodes.count) nodes, \(topology.links.count) links, \(topology.pools.count) pools\(loaded.warnings.isEmpty ? "" : ", \(loaded.warnings.count) warnings")")
                }
            } catch {
                results.append(FileResult(file: file, valid: false, problems: error.problems.map(ProblemJSON.init)))
                if !json {
                    for problem in error.problems { print(problem) }
                    print("\(file): invalid: \(error.errors.count) \(error.errors.count == 1 ? "error" : "errors")")
                }
            }
        }
        if json { print(try jsonText(results)) }
        if results.contains(where: { !$0.valid }) { throw ExitCode(1) }
    }
}

struct ShowTopology: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Describe a topology: nodes, links, regions, pools, capacity, latency diameter."
    )

    @Argument(help: "A topology file (YAML).")
    var file: String

    @Flag(help: "Print the description as JSON.")
    var json = false

    struct PoolJSON: Encodable {
        var id: String
        var node: String
        var cpuCores: Double
        var memoryGiB: Double
        var gpus: [String: Int]
        var speed: Double
        var labels: [String: String]
    }

    struct Description: Encodable {
        var name: String
        var source: String?
        var nodes: Int
        var nodesWithLocation: Int
        var links: Int
        var linksDown: Int
        var oneWayLinks: Int
        var linkCapacityGbps: [Double]
        var linkLatencyMs: [Double]
        var regions: [String]
        var pools: [PoolJSON]
        var totalCpuCores: Double
        var totalMemoryGiB: Double
        var totalGpus: [String: Int]
        var connected: Bool
        var parts: Int
        var latencyDiameterMs: Double?
        var diameterFrom: String?
        var diameterTo: String?
    }

    func run() throws {
        let topology = try loadTopology(file, quiet: json)
        let graph = NetworkGraph(topology)
        let latency = topology.links.map { $0.isUp ? $0.latencyMs : .infinity }
        let diameter = graph.latencyDiameter(latency: latency)
        let parts = topology.connectedComponents().count
        let total = topology.totalCapacity
        let capacities = topology.links.map(\.capacityGbps)
        let latencies = topology.links.map(\.latencyMs)
        let description = Description(
            name: topology.name,
            source: topology.source,
            nodes: topology.nodes.count,
            nodesWithLocation: topology.nodes.filter { $0.location != nil }.count,
            links: topology.links.count,
            linksDown: topology.links.filter { !$0.isUp }.count,
            oneWayLinks: topology.links.filter { !$0.bidirectional }.count,
            linkCapacityGbps: [capacities.min() ?? 0, capacities.max() ?? 0],
            linkLatencyMs: [latencies.min() ?? 0, latencies.max() ?? 0],
            regions: topology.regions,
            pools: topology.pools.map {
                PoolJSON(id: $0.id, node: topology.nodes[$0.node].id, cpuCores: $0.capacity.cpuCores, memoryGiB: $0.capacity.memoryGiB, gpus: $0.capacity.gpus, speed: $0.speed, labels: topology.effectiveLabels(of: $0))
            },
            totalCpuCores: total.cpuCores,
            totalMemoryGiB: total.memoryGiB,
            totalGpus: total.gpus,
            connected: parts <= 1,
            parts: parts,
            latencyDiameterMs: diameter?.latencyMs,
            diameterFrom: diameter.map { topology.nodes[$0.from].id },
            diameterTo: diameter.map { topology.nodes[$0.to].id }
        )
        if json {
            print(try jsonText(description))
            return
        }
        print(topology.name + (topology.source.map { "  (\($0))" } ?? ""))
        print("  nodes      \(description.nodes) (\(description.nodesWithLocation) with a location)")
        print("  links      \(description.links) (\(description.linksDown) down, \(description.oneWayLinks) one-way); capacity \(decimal(description.linkCapacityGbps[0]))–\(decimal(description.linkCapacityGbps[1])) Gbps; latency \(decimal(description.linkLatencyMs[0]))–\(decimal(description.linkLatencyMs[1])) ms")
        print("  regions    \(description.regions.isEmpty ? "none" : description.regions.joined(separator: ", "))")
        print("  connected  \(description.connected ? "yes" : "no: \(parts) parts")")
        if let diameter {
            print("  diameter   \(decimal(diameter.latencyMs)) ms (\(topology.nodes[diameter.from].id) → \(topology.nodes[diameter.to].id))")
        }
        print("  pools      \(topology.pools.count); total \(decimal(total.cpuCores)) cores, \(decimal(total.memoryGiB)) GiB\(gpuText(total.gpus))")
        if !topology.pools.isEmpty {
            let rows = description.pools.map { pool in
                [pool.id, pool.node, decimal(pool.cpuCores), decimal(pool.memoryGiB), gpuText(pool.gpus, leading: false), decimal(pool.speed)]
            }
            print(table(header: ["pool", "node", "cores", "GiB", "GPUs", "speed"], rows: rows, indent: "    "))
        }
    }
}
