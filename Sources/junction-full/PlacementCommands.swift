import ArgumentParser
import ClientCommands
import CommandLineSupport
import ControllerWire
import JunctionClient
import Placement
import Routing
import Topology
import TopologyWire
import Wire

/// `junction place`: where would this request go, and why.
struct Place: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "place",
        abstract: "Choose a pool and a network path for a request, and explain the choice.",
        discussion: "With --topology, places offline on the pools the file declares, all taken as up and idle; otherwise asks the controller, which uses live capacity. Nothing is reserved. Exits 1 when nothing fits, listing why each pool was rejected."
    )

    @Option(help: "A topology file to place on offline, instead of asking the controller.")
    var topology: String?

    @OptionGroup var options: PlacementOptions
    @OptionGroup var controller: ControllerOptions

    @Flag(help: "List every rejected pool with its reason.")
    var explain = false

    @Flag(help: "Print the placement as JSON.")
    var json = false

    func run() async throws {
        let request = try options.request()
        let reply: Junction_V1_PlacementReply
        if let topology {
            var engine = PlacementEngine(topology: try loadTopology(topology, quiet: json), declaredLiveness: .up)
            do {
                reply = try engine.place(PlacementRequest(request, explain: true), now: 0).wire
            } catch {
                throw CommandFailure(error.description)
            }
        } else {
            var place = Junction_V1_PlaceRequest()
            place.request = request
            let answer = try await controller.ask { [place] client throws(ClientError) in try await client.place(place) }
            reply = answer
        }
        if json {
            print(try jsonText(PlacementJSON(reply, objective: options.objective.rawValue, runnersUp: options.runnersUpShown)))
        } else {
            print(describePlacement(reply, objective: options.objective.rawValue, explain: explain, runnersUp: options.runnersUpShown))
        }
        if !reply.placed {
            if !json { printError("error: no pool can take this request (reasons above)") }
            throw ExitCode(1)
        }
    }
}

/// `junction routes`: the combined routing table from an ingress.
struct Routes: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "routes",
        abstract: "Show the combined routing table from an ingress: the best path to every pool beside its capacity.",
        discussion: "With --data-gb, each path is the quickest for that much data (latency + data / bottleneck), which may be longer but wider than the lowest-latency path. With --topology, offline on the file's declared pools; otherwise from the controller, with live capacity."
    )

    @Option(help: "A topology file to read offline, instead of asking the controller.")
    var topology: String?

    @OptionGroup var controller: ControllerOptions

    @Option(name: .customLong("from"), help: "Ingress node.")
    var ingress: String

    @Option(parsing: .unconditional, help: "Rank paths for moving this much data, in GB.")
    var dataGb: Double = 0

    @Option(parsing: .unconditional, help: "Only links with this much bandwidth available, in Gbps.")
    var minBandwidthGbps: Double = 0

    @Option(parsing: .unconditional, help: "Further loopless paths per pool, in order of latency (at most 8, as the controller gives).")
    var alternatives = 0

    @Flag(help: "Print the table as JSON.")
    var json = false

    func validate() throws {
        let limits = PlacementEngine.limits
        try checkRanges([
            ("--data-gb", dataGb, 0, limits.dataBytes / 1e9), ("--min-bandwidth-gbps", minBandwidthGbps, 0, limits.bandwidthGbps),
            ("--alternatives", Double(alternatives), 0, Double(PlacementEngine.maximumRouteAlternatives)),
        ])
    }

    struct RowJSON: Encodable {
        var pool: String
        var node: String
        var path: [String]
        var reachable: Bool
        var latency_ms: Double?
        var bottleneck_gbps: Double?
        var cost: Double?
        var hops: Int
        var cpu_cores_free: Double
        var memory_gib_free: Double
        var gpus_free: [String: Int]
        var state: String
        var queue_s: Double
        var alternatives: [[String]]
        var alternative_latency_ms: [Double]
    }

    func run() async throws {
        let routingTable: RoutingTable
        if let topology {
            var engine = PlacementEngine(topology: try loadTopology(topology, quiet: json), declaredLiveness: .up)
            do {
                routingTable = try engine.routingTable(from: ingress, dataBytes: dataGb * 1e9, minimumGbps: minBandwidthGbps, alternatives: alternatives, now: 0)
            } catch {
                throw CommandFailure(error.description)
            }
        } else {
            var request = Junction_V1_RoutesRequest()
            request.ingress = ingress
            request.dataBytes = UInt64(max(0, dataGb * 1e9))
            request.minBandwidthGbps = minBandwidthGbps
            request.alternatives = UInt32(max(0, alternatives))
            let reply = try await controller.ask { [request] client throws(ClientError) in try await client.routes(request) }
            routingTable = RoutingTable(wire: reply)
        }
        if json {
            print(try jsonText(routingTable.rows.map { row in
                RowJSON(
                    pool: row.pool, node: row.node, path: row.path, reachable: row.isReachable,
                    latency_ms: row.isReachable ? row.latencyMs : nil,
                    bottleneck_gbps: row.isReachable && row.bottleneckGbps.isFinite ? row.bottleneckGbps : nil,
                    cost: row.isReachable ? row.cost : nil, hops: row.hops,
                    cpu_cores_free: row.available.cpuCores, memory_gib_free: row.available.memoryGiB, gpus_free: row.available.gpus,
                    state: row.liveness.rawValue, queue_s: row.queueWaitS,
                    alternatives: row.alternatives, alternative_latency_ms: row.alternativeLatencyMs
                )
            }))
            return
        }
        print("routes from \(ingress)\(dataGb > 0 ? " for \(decimal(dataGb)) GB" : "")\(minBandwidthGbps > 0 ? " over links with \(decimal(minBandwidthGbps)) Gbps free" : "") (version \(routingTable.version))")
        // Offline every declared pool counts as up; a controller says which pools have an agent,
        // and one without has no free capacity to show, only its declared size (as `pools`).
        let live = topology == nil
        let rows = routingTable.rows.map { row -> [String] in
            let joined = !live || row.liveness != .declared
            let capacity = [joined ? decimal(row.available.cpuCores) : "-", joined ? gpuText(row.available.gpus, leading: false) : "-"]
            let state = live ? [joined ? row.liveness.rawValue : "declared, no agent"] : []
            guard row.isReachable else { return [row.pool, row.node] + state + ["unreachable", "-", "-", "-"] + capacity }
            return [row.pool, row.node] + state + [arrowPath(row.path), decimal(row.latencyMs), row.bottleneckGbps.isFinite ? decimal(row.bottleneckGbps) : "local", decimal(row.cost)] + capacity
        }
        print(table(header: ["pool", "node"] + (live ? ["state"] : []) + ["path", "latency_ms", "bottleneck_gbps", "cost", live ? "cores free" : "cores", live ? "GPUs free" : "GPUs"], rows: rows))
        for row in routingTable.rows where !row.alternatives.isEmpty {
            print("\(row.pool) alternatives:")
            for (path, latency) in zip(row.alternatives, row.alternativeLatencyMs) { print("  \(decimal(latency)) ms  \(arrowPath(path))") }
        }
    }
}
