import Topology

/// What a placement optimises.
public enum Objective: String, Sendable, Hashable, CaseIterable {
    /// Earliest estimated completion: latency + transfer + queue + runtime / speed.
    case completion
    /// Lowest price for the resources over the runtime, plus data transfer prices.
    case cost
    /// Lowest path latency plus the pool's processing latency.
    case latency
}

/// How a pool is chosen among those that can take a request. Junction places jointly; the others
/// are the one-sided baselines the simulator compares against.
public enum Policy: Sendable, Hashable {
    /// Pool and path together, by the request's objective.
    case joint
    /// The pool the request fits most tightly, ignoring the network (best fit).
    case computeOnly
    /// The nearest pool with room: the lowest path latency.
    case networkOnly
    /// Any pool with room, drawn from the seed.
    case random(seed: UInt64)
}

/// A constraint on a pool's labels.
public struct LabelConstraint: Sendable, Hashable, CustomStringConvertible {
    /// How the label's value is compared with `values`.
    public enum Operator: String, Sendable, Hashable {
        case equals, `in`, notIn = "not_in"
    }

    public var key: String
    public var op: Operator
    public var values: [String]

    public init(_ key: String, _ op: Operator, _ values: [String]) {
        self.key = key
        self.op = op
        self.values = values
    }

    public func accepts(_ labels: [String: String]) -> Bool {
        let value = labels[key]
        switch op {
        case .equals: return value == values.first
        case .in: return value.map(values.contains) ?? false
        case .notIn: return value.map { !values.contains($0) } ?? true
        }
    }

    public var description: String {
        switch op {
        case .equals: "\(key)=\(values.first ?? "")"
        case .in: "\(key) in {\(values.joined(separator: ", "))}"
        case .notIn: "\(key) not in {\(values.joined(separator: ", "))}"
        }
    }
}

/// What a client asks for: resources, data to move, constraints and an objective.
public struct PlacementRequest: Sendable, Hashable {
    /// The node id where the request and its data enter the network.
    public var ingress: String
    public var cpuCores: Double
    public var memoryBytes: UInt64
    public var gpuCount: Int
    /// Acceptable GPU models; empty accepts any.
    public var gpuModels: [String]
    public var dataBytes: Double
    /// Bandwidth to reserve on every link of the path; 0 reserves none and the data moves at
    /// the path's available bottleneck.
    public var minBandwidthGbps: Double
    /// Path latency plus processing latency must fit; nil for no budget.
    public var maxLatencyMs: Double?
    /// Runtime on a reference pool (speed 1).
    public var runtimeS: Double
    public var labels: [LabelConstraint]
    public var objective: Objective
    /// How many runners-up to return.
    public var alternatives: Int
    /// Give every rejected pool its reason (costs time with many pools).
    public var explain: Bool
    /// The part of one GPU to share with other jobs (0 < share < 1, with one GPU asked); 1 asks
    /// for whole GPUs.
    public var gpuShare: Double = 1
    /// Whether the job asks for part of one GPU rather than whole ones.
    public var isGPUShare: Bool { gpuCount == 1 && gpuShare < 1 }
    /// GPUs the job takes, counting a share as its part.
    public var gpuUnits: Double { isGPUShare ? gpuShare : Double(gpuCount) }
    /// When nothing fits, search again to give every pool its reason; off when only the
    /// answer matters, as in simulations that retry waiting jobs often.
    public var explainRefusal = true
    /// Pools not to use, such as those that refused or lost this job before.
    public var excludedPools: Set<String> = []
    /// How the pool is chosen; `.joint` but in comparisons.
    public var policy: Policy = .joint
    /// How far ahead, in seconds, the job may be planned to start on a pool that has no room for
    /// it now; 0 places it only where it fits now.
    public var planHorizonS: Double = 0
    /// The only pool the job may use, as when a planned job has moved as often as it may.
    public var onlyPool: String?

    public init(ingress: String, cpuCores: Double = 0, memoryBytes: UInt64 = 0, gpuCount: Int = 0, gpuModels: [String] = [], dataBytes: Double = 0, minBandwidthGbps: Double = 0, maxLatencyMs: Double? = nil, runtimeS: Double = 0, labels: [LabelConstraint] = [], objective: Objective = .completion, alternatives: Int = 3, explain: Bool = true) {
        self.ingress = ingress
        self.cpuCores = cpuCores
        self.memoryBytes = memoryBytes
        self.gpuCount = gpuCount
        self.gpuModels = gpuModels
        self.dataBytes = dataBytes
        self.minBandwidthGbps = minBandwidthGbps
        self.maxLatencyMs = maxLatencyMs
        self.runtimeS = runtimeS
        self.labels = labels
        self.objective = objective
        self.alternatives = alternatives
        self.explain = explain
    }
}

/// How a pool's estimate for a request breaks down.
public struct Estimate: Sendable, Hashable {
    public var latencyMs: Double
    public var bottleneckGbps: Double
    /// The path's summed link cost.
    public var pathCost: Double
    public var hops: Int
    public var transferS: Double
    public var queueS: Double
    public var runtimeS: Double
    public var completionS: Double
    /// Price of the resources over the runtime on this pool, plus data transfer prices.
    public var price: Double
    public var processingLatencyMs: Double
    /// The GPU model the job would use, when it asks for GPUs.
    public var gpuModel: String?
    /// Seconds from now until the job is dispatched: 0 now, more when it is planned to start
    /// later (the completion counts them).
    public var startS: Double = 0

    public init(latencyMs: Double, bottleneckGbps: Double, pathCost: Double, hops: Int, transferS: Double, queueS: Double, runtimeS: Double, completionS: Double, price: Double, processingLatencyMs: Double, gpuModel: String?, startS: Double = 0) {
        self.startS = startS
        self.latencyMs = latencyMs
        self.bottleneckGbps = bottleneckGbps
        self.pathCost = pathCost
        self.hops = hops
        self.transferS = transferS
        self.queueS = queueS
        self.runtimeS = runtimeS
        self.completionS = completionS
        self.price = price
        self.processingLatencyMs = processingLatencyMs
        self.gpuModel = gpuModel
    }
}

/// A pool that can take the request, the path to it, and its estimate.
public struct Candidate: Sendable, Hashable {
    public var pool: String
    public var node: String
    public var path: [String]
    public var slots: [Int]
    public var estimate: Estimate
}

/// The checks a pool goes through, in order; a rejected pool names the first that failed.
public enum Check: String, Sendable, Hashable, CaseIterable {
    case excluded
    case poolDown = "pool_down"
    case stale
    case labels
    case gpuModel = "gpu_model"
    case resources
    case unreachable
    case bandwidth
    case latencyBudget = "latency_budget"
}

/// A pool that cannot take the request, and why, with the numbers.
public struct Rejection: Sendable, Hashable, CustomStringConvertible {
    public var pool: String
    public var check: Check
    public var reason: String

    public var description: String { "\(pool): \(reason)" }
}

/// The answer to a request: the winner, the runners-up and every rejection.
public struct Placement: Sendable {
    public var winner: Candidate?
    public var runnersUp: [Candidate]
    /// Filled when the request asks for explanations, or when nothing fits.
    public var rejections: [Rejection]
    /// Pools a bound showed could not win, so they were not scored.
    public var pruned: Int
    public var version: UInt64
}

/// Why a request could not be considered at all.
public enum PlacementError: Error, Sendable, Hashable, CustomStringConvertible {
    case unknownIngress(String, likely: String? = nil)
    case invalid(String)

    public var description: String {
        switch self {
        case .unknownIngress(let node, let likely): "ingress \"\(node)\" is not a node of the topology\(likely.map { "; did you mean \"\($0)\"?" } ?? "")"
        case .invalid(let reason): reason
        }
    }
}
