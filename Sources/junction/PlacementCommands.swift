import ArgumentParser
import ControllerWire
import Foundation
import JunctionClient
import Placement
import Topology
import Wire

/// The request flags shared by `place` and `submit`.
struct PlacementOptions: ParsableArguments {
    @Option(name: .customLong("from"), help: "Ingress node: where the request and its data enter the network.")
    var ingress: String

    @Option(help: "CPU cores (fractions allowed).")
    var cpu: Double = 1

    @Option(help: "Memory in GiB.")
    var memoryGib: Double = 0

    @Option(help: ArgumentHelp("GPUs as MODEL[,MODEL...]:COUNT, or COUNT for any model.", valueName: "gpus"))
    var gpus: String?

    @Option(help: "Share one GPU with other jobs, using this part of it (above 0, below 1); implies one GPU.")
    var gpuShare: Double?

    @Option(help: "Input data to move from the ingress to the pool, in GB.")
    var dataGb: Double = 0

    @Option(help: "Bandwidth to reserve on every link of the path, in Gbps.")
    var minBandwidthGbps: Double = 0

    @Option(help: "Latency budget: path latency plus the pool's processing latency, in ms.")
    var maxLatencyMs: Double?

    @Option(help: "Runtime on a reference pool (speed 1), in seconds.")
    var runtimeS: Double = 0

    @Option(name: .customLong("label"), help: ArgumentHelp("A pool label constraint: KEY=VALUE, KEY=A|B (one of), KEY!=A|B (none of). Repeatable.", valueName: "constraint"))
    var labels: [String] = []

    @Option(help: "What to optimise: completion, cost or latency.")
    var objective: Objective = .completion

    @Option(help: "How many runners-up to show.")
    var alternatives = 3

    func request(explain: Bool) throws -> PlacementRequest {
        var gpuCount = 0
        var gpuModels: [String] = []
        if let gpus {
            guard let ask = GPUAsk(parsing: gpus) else {
                throw ValidationError("--gpus takes MODEL[,MODEL...]:COUNT or COUNT (0 to 1000000), such as H100:2 or A100,H100:4; got \(gpus)")
            }
            (gpuCount, gpuModels) = (ask.count, ask.models)
        }
        let constraints = try labels.map { text -> LabelConstraint in
            guard let constraint = LabelConstraint(parsing: text) else {
                throw ValidationError("--label takes KEY=VALUE, KEY=A|B or KEY!=A|B; got \(text)")
            }
            return constraint
        }
        try checkRanges([("--cpu", cpu, 0, 1e7), ("--memory-gib", memoryGib, 0, 1e9), ("--data-gb", dataGb, 0, 1e9)])
        if let gpuShare {
            guard gpuShare > 0, gpuShare < 1 else { throw ValidationError("--gpu-share takes a part of one GPU, above 0 and below 1; got \(gpuShare)") }
            guard gpuCount <= 1 else { throw ValidationError("--gpu-share is part of one GPU; --gpus asks for \(gpuCount)") }
            gpuCount = 1
        }
        var request = PlacementRequest(
            ingress: ingress, cpuCores: cpu, memoryBytes: UInt64(memoryGib * Double(1 << 30)),
            gpuCount: gpuCount, gpuModels: gpuModels, dataBytes: dataGb * 1e9,
            minBandwidthGbps: minBandwidthGbps, maxLatencyMs: maxLatencyMs, runtimeS: runtimeS,
            labels: constraints, objective: objective, alternatives: alternatives, explain: explain
        )
        if let gpuShare { request.gpuShare = gpuShare }
        return request
    }
}

extension Objective: ExpressibleByArgument {}

/// A candidate as JSON, with the field names the operators' tools read.
struct CandidateJSON: Encodable {
    var pool: String
    var node: String
    var path: [String]
    var latency_ms: Double
    var bottleneck_gbps: Double?
    var cost: Double
    var hops: UInt32
    var transfer_s: Double
    var queue_s: Double
    var runtime_s: Double
    var completion_s: Double
    var price: Double

    init(_ candidate: Junction_V1_Candidate) {
        let estimate = candidate.estimate
        pool = candidate.pool
        node = candidate.node
        path = candidate.path
        latency_ms = estimate.latencyMs
        bottleneck_gbps = estimate.hops > 0 ? estimate.bottleneckGbps : nil
        cost = estimate.cost
        hops = estimate.hops
        transfer_s = estimate.transferS
        queue_s = estimate.queueS
        runtime_s = estimate.runtimeS
        completion_s = estimate.completionS
        price = estimate.price
    }
}

struct RejectionJSON: Encodable {
    var pool: String
    var check: String
    var reason: String
}

struct PlacementJSON: Encodable {
    var placed: Bool
    var objective: String
    var winner: CandidateJSON?
    var candidates: [CandidateJSON]
    var rejected: [RejectionJSON]

    init(_ reply: Junction_V1_PlacementReply, objective: Objective) {
        placed = reply.placed
        self.objective = objective.rawValue
        winner = reply.placed ? CandidateJSON(reply.winner) : nil
        candidates = ((reply.placed ? [reply.winner] : []) + reply.runnersUp).map(CandidateJSON.init)
        rejected = reply.rejected.map { RejectionJSON(pool: $0.pool, check: $0.check, reason: $0.reason) }
    }
}

/// A placement for people: the winner, its path, why it won, and why the others lost.
func describePlacement(_ reply: Junction_V1_PlacementReply, objective: Objective, explain: Bool) -> String {
    var lines: [String] = []
    let all = (reply.placed ? [reply.winner] : []) + reply.runnersUp
    if reply.placed {
        let winner = reply.winner
        let e = winner.estimate
        lines.append("placed on \(winner.pool) at \(winner.node) (objective: \(objective.rawValue))")
        let bottleneck = e.hops > 0 ? ", bottleneck \(decimal(e.bottleneckGbps)) Gbps" : ""
        lines.append("  path       \(arrowPath(winner.path))  (\(e.hops) \(e.hops == 1 ? "hop" : "hops"), \(decimal(e.latencyMs)) ms\(bottleneck))")
        let wait = e.startS > 0 ? "start in \(decimal(e.startS)) s + " : ""
        lines.append("  estimate   \(wait)latency \(decimal(e.latencyMs)) ms + transfer \(decimal(e.transferS)) s + queue \(decimal(e.queueS)) s + run \(decimal(e.runtimeS)) s = \(decimal(e.completionS)) s; price \(decimal(e.price))")
        if e.startS > 0 {
            lines.append("  why later  \(laterStartReason(winner, among: reply.runnersUp))")
        }
    }
    if all.count > 1 {
        lines.append("candidates")
        let rows = all.map { candidate -> [String] in
            let e = candidate.estimate
            return [candidate.pool, arrowPath(candidate.path), decimal(e.startS), decimal(e.latencyMs), decimal(e.transferS), decimal(e.queueS), decimal(e.runtimeS), decimal(e.completionS), decimal(e.price)]
        }
        lines.append(table(header: ["pool", "path", "start_s", "latency_ms", "transfer_s", "queue_s", "runtime_s", "completion_s", "price"], rows: rows, indent: "  "))
    }
    if explain || !reply.placed, !reply.rejected.isEmpty {
        lines.append("rejected")
        for rejection in reply.rejected { lines.append("  \(rejection.pool): \(rejection.reason)") }
    }
    return lines.joined(separator: "\n")
}

/// Why a winner that starts later beat starting now: "starts in 120 s on sunnyvale-h100 and
/// finishes 35 % sooner than starting now on seattle-bulk".
func laterStartReason(_ winner: Junction_V1_Candidate, among others: [Junction_V1_Candidate]) -> String {
    let e = winner.estimate
    let head = "starts in \(duration(e.startS)) on \(winner.pool), when jobs there end"
    guard let now = others.first(where: { $0.estimate.startS == 0 }) else {
        return "\(head); no pool that could take it has room now"
    }
    let sooner = now.estimate.completionS > 0 ? (1 - e.completionS / now.estimate.completionS) * 100 : 0
    return "\(head), and finishes \(decimal(sooner.rounded())) % sooner than starting now on \(now.pool) (done in \(duration(now.estimate.completionS)) there, \(duration(e.completionS)) here)"
}

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
        let request = try options.request(explain: true)
        let reply: Junction_V1_PlacementReply
        if let topology {
            var engine = PlacementEngine(topology: try loadTopology(topology, quiet: json), declaredLiveness: .up)
            do {
                reply = try engine.place(request, now: 0).wire
            } catch {
                throw CommandFailure(error.description)
            }
        } else {
            var place = Junction_V1_PlaceRequest()
            place.request = request.wire
            let answer = try await controller.ask { [place] client throws(ClientError) in try await client.place(place) }
            reply = answer
        }
        if json {
            print(try jsonText(PlacementJSON(reply, objective: request.objective)))
        } else {
            print(describePlacement(reply, objective: request.objective, explain: explain))
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

    @Option(help: "Rank paths for moving this much data, in GB.")
    var dataGb: Double = 0

    @Option(help: "Only links with this much bandwidth available, in Gbps.")
    var minBandwidthGbps: Double = 0

    @Option(help: "Further loopless paths per pool, in order of latency.")
    var alternatives = 0

    @Flag(help: "Print the table as JSON.")
    var json = false

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
        let rows = routingTable.rows.map { row -> [String] in
            guard row.isReachable else { return [row.pool, row.node, "unreachable", "-", "-", "-", decimal(row.available.cpuCores), gpuText(row.available.gpus, leading: false)] }
            return [row.pool, row.node, arrowPath(row.path), decimal(row.latencyMs), row.bottleneckGbps.isFinite ? decimal(row.bottleneckGbps) : "local", decimal(row.cost), decimal(row.available.cpuCores), gpuText(row.available.gpus, leading: false)]
        }
        print(table(header: ["pool", "node", "path", "latency_ms", "bottleneck_gbps", "cost", "cores", "GPUs"], rows: rows))
        for row in routingTable.rows where !row.alternatives.isEmpty {
            print("\(row.pool) alternatives:")
            for (path, latency) in zip(row.alternatives, row.alternativeLatencyMs) { print("  \(decimal(latency)) ms  \(arrowPath(path))") }
        }
    }
}
