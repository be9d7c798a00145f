import Routing
import Topology

/// One row of the combined routing table: a pool, the best path to it from the ingress, and
/// the pool's live capacity.
public struct RouteRow: Sendable, Hashable {
    public var pool: String
    public var node: String
    /// Node ids from the ingress; empty when no path reaches the pool.
    public var path: [String]
    public var latencyMs: Double
    public var bottleneckGbps: Double
    public var cost: Double
    public var hops: Int
    public var available: Resources
    public var liveness: PoolLiveness
    /// Seconds since the last advertisement; nil when none arrived.
    public var ageS: Double?
    public var queueWaitS: Double
    /// Further loopless paths in order of latency, when asked.
    public var alternatives: [[String]]
    public var alternativeLatencyMs: [Double]

    public var isReachable: Bool { !path.isEmpty }

    public init(pool: String, node: String, path: [String], latencyMs: Double, bottleneckGbps: Double, cost: Double, hops: Int, available: Resources, liveness: PoolLiveness, ageS: Double?, queueWaitS: Double, alternatives: [[String]], alternativeLatencyMs: [Double]) {
        self.pool = pool
        self.node = node
        self.path = path
        self.latencyMs = latencyMs
        self.bottleneckGbps = bottleneckGbps
        self.cost = cost
        self.hops = hops
        self.available = available
        self.liveness = liveness
        self.ageS = ageS
        self.queueWaitS = queueWaitS
        self.alternatives = alternatives
        self.alternativeLatencyMs = alternativeLatencyMs
    }
}

/// The routing table from one ingress at one version of the engine's state.
public struct RoutingTable: Sendable, Hashable {
    public var ingress: String
    public var version: UInt64
    public var rows: [RouteRow]

    public init(ingress: String, version: UInt64, rows: [RouteRow]) {
        self.ingress = ingress
        self.version = version
        self.rows = rows
    }
}

/// What changed between two routing tables from the same ingress.
public struct RoutingTableDiff: Sendable, Hashable {
    public var fromVersion: UInt64
    public var toVersion: UInt64
    public var added: [RouteRow]
    public var removed: [String]
    public var changed: [RouteRow]

    public var isEmpty: Bool { added.isEmpty && removed.isEmpty && changed.isEmpty }

    /// Rows of `new` absent from `old`, pools of `old` absent from `new`, rows that differ.
    public init(from old: RoutingTable, to new: RoutingTable) {
        fromVersion = old.version
        toVersion = new.version
        let before = Dictionary(old.rows.map { ($0.pool, $0) }, uniquingKeysWith: { first, _ in first })
        let after = Set(new.rows.map(\.pool))
        added = new.rows.filter { before[$0.pool] == nil }
        changed = new.rows.filter { row in before[row.pool].map { $0 != row } ?? false }
        removed = old.rows.map(\.pool).filter { !after.contains($0) }
    }
}

extension PlacementEngine {
    /// The most further paths per pool a routing table lists.
    public static let maximumRouteAlternatives = 8

    /// The combined routing table from `ingress`: for every pool, the best path for `dataBytes`
    /// (the quickest path; the lowest-latency path with no data) over links with
    /// `minimumGbps` available, beside the pool's live capacity.
    public mutating func routingTable(from ingress: String, dataBytes: Double = 0, minimumGbps: Double = 0, alternatives: Int = 0, now: Double) throws(PlacementError) -> RoutingTable {
        guard let source = topology.node(ingress) else { throw .unknownIngress(ingress, likely: topology.nodeID(like: ingress)) }
        guard dataBytes.isFinite, dataBytes >= 0, minimumGbps.isFinite, minimumGbps >= 0, alternatives >= 0 else {
            throw .invalid("data size, minimum bandwidth and alternatives must be at least 0")
        }
        let nodes = Array(Set(states.map(\.node))).sorted()
        let targetOfNode = Dictionary(uniqueKeysWithValues: nodes.enumerated().map { ($1, $0) })
        var selection = routes.select(network, from: source, targets: nodes.map { RouteTarget(node: $0) }, minimumGbps: minimumGbps, dataBytes: dataBytes)
        var rows: [RouteRow] = []
        for state in states {
            let path = routes.path(&selection, targetOfNode[state.node]!, in: network)
            var row = RouteRow(
                pool: state.id, node: topology.nodes[state.node].id,
                path: path?.nodes.map { topology.nodes[$0].id } ?? [],
                latencyMs: path?.latencyMs ?? .infinity, bottleneckGbps: path?.bottleneckGbps ?? 0,
                cost: path?.cost ?? .infinity, hops: path?.hops ?? 0,
                available: state.available, liveness: state.liveness,
                ageS: state.lastAdvertisement.map { now - $0 }, queueWaitS: state.queueWaitS,
                alternatives: [], alternativeLatencyMs: []
            )
            if alternatives > 0, path != nil, state.node != source {
                let paths = routes.alternatives(network, from: source, to: state.node, count: alternatives + 1, minimumGbps: minimumGbps).dropFirst()
                row.alternatives = paths.map { $0.nodes.map { topology.nodes[$0].id } }
                row.alternativeLatencyMs = paths.map(\.latencyMs)
            }
            rows.append(row)
        }
        rows.sort { ($0.latencyMs, $0.pool) < ($1.latencyMs, $1.pool) }
        return RoutingTable(ingress: ingress, version: version, rows: rows)
    }
}
