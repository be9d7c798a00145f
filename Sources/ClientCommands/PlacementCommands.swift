import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import JunctionClient
import Wire
import Wording

/// The request flags shared by `place` and `submit`.
public struct PlacementOptions: ParsableArguments {
    @Option(name: .customLong("from"), help: "Ingress node: where the request and its data enter the network.")
    var ingress: String

    @Option(parsing: .unconditional, help: "CPU cores (fractions allowed).")
    var cpu: Double = 1

    @Option(parsing: .unconditional, help: "Memory in GiB.")
    var memoryGib: Double = 0

    @Option(help: ArgumentHelp("GPUs as MODEL[,MODEL...]:COUNT, or COUNT for any model.", valueName: "gpus"))
    var gpus: String?

    @Option(parsing: .unconditional, help: "Share one GPU with other jobs, using this part of it (above 0, below 1); implies one GPU.")
    var gpuShare: Double?

    @Option(parsing: .unconditional, help: "Input data to move from the ingress to the pool, in GB.")
    var dataGb: Double = 0

    @Option(parsing: .unconditional, help: "Bandwidth to reserve on every link of the path, in Gbps.")
    var minBandwidthGbps: Double = 0

    @Option(parsing: .unconditional, help: "Latency budget: path latency plus the pool's processing latency, in ms.")
    var maxLatencyMs: Double?

    @Option(parsing: .unconditional, help: "Runtime on a reference pool (speed 1), in seconds.")
    var runtimeS: Double = 0

    @Option(name: .customLong("label"), help: ArgumentHelp("A pool label constraint: KEY=VALUE, KEY=A|B (one of), KEY!=A|B (none of). Repeatable.", valueName: "constraint"))
    var labels: [String] = []

    @Option(help: "What to optimise: completion, cost or latency.")
    public var objective: ObjectiveOption = .completion

    @Option(parsing: .unconditional, help: "How many runners-up to show (default: 3 for place, none for submit).")
    var alternatives: Int?

    public init() {}

    /// How many runners-up a command that places should show: what the command line asked for,
    /// else 3. (On the wire a `PlacementRequest` cannot ask for none: 0 there means 3.)
    public var runnersUpShown: Int { alternatives ?? 3 }

    /// The request as the wire carries it, after checking every value; `alternatives` runners-up
    /// unless the command line says how many.
    public func request(alternatives defaultAlternatives: Int = 3) throws -> Junction_V1_PlacementRequest {
        var request = Junction_V1_PlacementRequest()
        if let gpus {
            guard let ask = GPUAsk(parsing: gpus) else {
                throw ValidationError("--gpus takes MODEL[,MODEL...]:COUNT or COUNT (0 to 1000000), such as H100:2 or A100,H100:4; got \(gpus)")
            }
            request.gpuCount = UInt32(ask.count)
            request.gpuModels = ask.models
        }
        request.labels = try labels.map { text in
            guard let constraint = Junction_V1_LabelConstraint(parsing: text) else {
                throw ValidationError("--label takes KEY=VALUE, KEY=A|B or KEY!=A|B; got \(text)")
            }
            return constraint
        }
        try checkRanges([
            ("--cpu", cpu, 0, 1e7), ("--memory-gib", memoryGib, 0, 1e9), ("--data-gb", dataGb, 0, 1e9),
            ("--min-bandwidth-gbps", minBandwidthGbps, 0, 1e6), ("--max-latency-ms", maxLatencyMs, 0, 1e7),
            ("--runtime-s", runtimeS, 0, 3.2e8),
        ])
        if let gpuShare {
            guard gpuShare > 0, gpuShare < 1 else { throw ValidationError("--gpu-share takes a part of one GPU, above 0 and below 1; got \(gpuShare)") }
            guard request.gpuCount <= 1 else { throw ValidationError("--gpu-share is part of one GPU; --gpus asks for \(request.gpuCount)") }
            request.gpuCount = 1
            request.gpuShare = gpuShare
        }
        request.ingress = ingress
        request.cpuCores = cpu
        request.memoryBytes = UInt64(memoryGib * Double(1 << 30))
        request.dataBytes = UInt64(dataGb * 1e9)
        request.minBandwidthGbps = minBandwidthGbps
        request.maxLatencyMs = maxLatencyMs ?? 0
        request.runtimeS = runtimeS
        request.objective = objective.wire
        guard (alternatives ?? 0) >= 0 else { throw ValidationError("--alternatives takes 0 or more runners-up; got \(alternatives ?? 0)") }
        request.alternatives = UInt32(clamping: alternatives ?? defaultAlternatives)
        return request
    }
}

/// What a placement optimises, as the command line names it.
public enum ObjectiveOption: String, ExpressibleByArgument, CaseIterable, Sendable {
    case completion, cost, latency

    /// The objective as the wire carries it.
    public var wire: Junction_V1_Objective {
        switch self {
        case .completion: .completion
        case .cost: .cost
        case .latency: .latency
        }
    }
}

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

public struct PlacementJSON: Encodable {
    var placed: Bool
    var objective: String
    var winner: CandidateJSON?
    var candidates: [CandidateJSON]
    var rejected: [RejectionJSON]

    public init(_ reply: Junction_V1_PlacementReply, objective: String, runnersUp: Int = .max) {
        placed = reply.placed
        self.objective = objective
        winner = reply.placed ? CandidateJSON(reply.winner) : nil
        candidates = ((reply.placed ? [reply.winner] : []) + reply.runnersUp.prefix(runnersUp)).map(CandidateJSON.init)
        rejected = reply.rejected.map { RejectionJSON(pool: $0.pool, check: $0.check, reason: $0.reason) }
    }
}

/// A placement for people: the winner, its path, why it won, and why the others lost, with at
/// most `runnersUp` of the runners-up in its table.
public func describePlacement(_ reply: Junction_V1_PlacementReply, objective: String, explain: Bool, runnersUp: Int = .max) -> String {
    var lines: [String] = []
    let all = (reply.placed ? [reply.winner] : []) + reply.runnersUp.prefix(runnersUp)
    if reply.placed {
        let winner = reply.winner
        let e = winner.estimate
        lines.append("placed on \(winner.pool) at \(winner.node) (objective: \(objective))")
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
