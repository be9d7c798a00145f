import Topology

/// A route through the network from one node to another, with its metrics.
public struct Path: Sendable, Hashable {
    /// Node indexes from the start to the end.
    public var nodes: [Int]
    /// Directed slots in order (see `NetworkGraph`); `link(ofSlot:)` gives each link.
    public var slots: [Int]
    public var latencyMs: Double
    /// The smallest available bandwidth along the path in Gbps; infinity for an empty path.
    public var bottleneckGbps: Double
    public var cost: Double

    public var hops: Int { slots.count }
    public var links: [Int] { slots.map(link(ofSlot:)) }
}

extension NetworkState {
    /// The path a tree holds to `node`, with its metrics taken from the current state.
    public func path(in tree: PathTree, to node: Int) -> Path? {
        guard let nodes = tree.nodes(to: node), let slots = tree.slots(to: node) else { return nil }
        return path(nodes: nodes, slots: slots)
    }

    /// Metrics for a path given by its nodes and slots.
    public func path(nodes: [Int], slots: [Int]) -> Path {
        var latency = 0.0, cost = 0.0, bottleneck = Double.infinity
        for slot in slots {
            let link = slot >> 1
            latency += latencyMs(link: link)
            cost += topology.links[link].cost
            bottleneck = min(bottleneck, availableGbps[slot])
        }
        return Path(nodes: nodes, slots: slots, latencyMs: latency, bottleneckGbps: bottleneck, cost: cost)
    }
}
