/// A route's metrics, read off a search tree without building the path.
public struct Route: Sendable, Hashable {
    public var latencyMs: Double
    /// The smallest available bandwidth along the route in Gbps; infinity for no hops.
    public var bottleneckGbps: Double
    public var cost: Double
    public var transferPricePerGB: Double
    public var hops: Int
}

/// The routes one search (or one quickest-path computation) chose from an ingress.
public struct RouteSelection: Sendable {
    let state: NetworkState
    let trees: [PathTree]
    /// Per node, the tree holding its chosen route (-1: none); nil when every node uses tree 0.
    let eager: [Int32]?

    /// The chosen route to `node`, or nil when there is none.
    public func route(to node: Int) -> Route? {
        let index = eager.map { Int($0[node]) } ?? 0
        guard index >= 0, trees[index].isReachable(node) else { return nil }
        return state.walk(trees[index], to: node)
    }

    /// The chosen path to `node`, with its nodes and slots.
    public func path(to node: Int) -> Path? {
        let index = eager.map { Int($0[node]) } ?? 0
        guard index >= 0 else { return nil }
        return state.path(in: trees[index], to: node)
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
