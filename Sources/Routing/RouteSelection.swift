/// A route's metrics, read off a search tree without building the path.
public struct Route: Sendable, Hashable {
    public var latencyMs: Double
    /// The smallest available bandwidth along the route in Gbps; infinity for no hops.
    public var bottleneckGbps: Double
    public var cost: Double
    public var transferPricePerGB: Double
    public var hops: Int
}

/// A node to route to, and the most latency a route to it may have.
public struct RouteTarget: Sendable, Hashable {
    public var node: Int
    public var latencyLimitMs: Double

    public init(node: Int, latencyLimitMs: Double = .infinity) {
        self.node = node
        self.latencyLimitMs = latencyLimitMs
    }
}

/// What a selection found for one target.
public enum RouteOutcome: Sendable, Hashable {
    case found(Route)
    /// Paths exist, but the lowest-latency one takes this long, over the target's limit.
    case overLimit(lowestLatencyMs: Double)
    case none
}

/// Routes being chosen from one ingress for one request; `RouteCache.resolve` fills it in per
/// target, on demand.
public struct RouteSelection: Sendable {
    let ingress: Int
    /// Data to move, in bits; 0 when routes are chosen by latency alone.
    let bits: Double
    public private(set) var targets: [RouteTarget]
    let base: PathTree
    var outcomes: [RouteOutcome?]
    var chosenLevel: [Int32]
    /// Distinct available bandwidths, descending, and the searches made at each so far.
    let levels: [Double]
    var levelTrees: [PathTree?]

    /// Adds a target to choose a route for and returns its index.
    public mutating func add(_ target: RouteTarget) -> Int {
        targets.append(target)
        outcomes.append(nil)
        chosenLevel.append(-1)
        return targets.count - 1
    }

    /// The lowest latency from the ingress to `node` over the usable links (infinity when
    /// unreachable): a lower bound for any route the selection can choose.
    public func lowestLatencyMs(to node: Int) -> Double { base.distance[node] }

    /// The widest bandwidth any route can have, in Gbps; infinity when routes are chosen by
    /// latency alone.
    public var widestGbps: Double { bits > 0 ? (levels.first ?? 0) : .infinity }
}

extension NetworkState {
    /// The metrics of the tree path to `node`, from the current state, without allocating.
    func walk(_ tree: PathTree, to node: Int) -> Route {
        var bottleneck = Double.infinity, cost = 0.0, price = 0.0
        var hops = 0
        var current = node
        while current != tree.source {
            let slot = Int(tree.parentSlot[current])
            let link = slot >> 1
            bottleneck = min(bottleneck, availableGbps[slot])
            cost += topology.links[link].cost
            price += topology.links[link].transferPricePerGB
            hops += 1
            current = Int(tree.parentNode[current])
        }
        return Route(latencyMs: tree.distance[node], bottleneckGbps: bottleneck, cost: cost, transferPricePerGB: price, hops: hops)
    }
}
