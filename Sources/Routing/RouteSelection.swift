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

/// The routes one search (or one quickest-path computation) chose from an ingress.
public struct RouteSelection: Sendable {
    let state: NetworkState
    public let targets: [RouteTarget]
    let trees: [PathTree]
    /// Per target, the tree holding its chosen route; nil when every target uses tree 0.
    let choice: [Int32]?

    /// The chosen route to the target at `index`.
    public func outcome(_ index: Int) -> RouteOutcome {
        let target = targets[index]
        let tree = trees[choice.map { Int($0[index]) } ?? 0]
        let latency = tree.distance[target.node]
        if latency.isFinite, latency <= target.latencyLimitMs {
            return .found(state.walk(tree, to: target.node))
        }
        let lowest = trees[0].distance[target.node]
        return lowest.isFinite ? .overLimit(lowestLatencyMs: lowest) : .none
    }

    /// The chosen path to the target at `index`, with its nodes and slots.
    public func path(_ index: Int) -> Path? {
        guard case .found = outcome(index) else { return nil }
        return state.path(in: trees[choice.map { Int($0[index]) } ?? 0], to: targets[index].node)
    }
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
