import Topology

/// A topology's links as directed arcs in compressed adjacency arrays, for fast searches.
///
/// A bidirectional link becomes two arcs that share the link's index, so per-link state
/// (latency, bandwidth held) applies to both directions of a link, each direction carrying the
/// link's full capacity.
public struct NetworkGraph: Sendable {
    public let nodeCount: Int
    public let linkCount: Int
    /// Arcs leaving node `n` are `arcStart[n] ..< arcStart[n + 1]`.
    let arcStart: [Int32]
    let arcTarget: [Int32]
    let arcLink: [Int32]
    /// For each link, its two ends (`from`, `to`) as in the topology.
    let linkEnds: [(from: Int32, to: Int32)]

    public init(_ topology: Topology) {
        nodeCount = topology.nodes.count
        linkCount = topology.links.count
        var degree = [Int32](repeating: 0, count: nodeCount + 1)
        for link in topology.links {
            degree[link.from] += 1
            if link.bidirectional { degree[link.to] += 1 }
        }
        var start = [Int32](repeating: 0, count: nodeCount + 1)
        for node in 0..<nodeCount { start[node + 1] = start[node] + degree[node] }
        var fill = start
        var target = [Int32](repeating: 0, count: Int(start[nodeCount]))
        var linkOfArc = [Int32](repeating: 0, count: Int(start[nodeCount]))
        for (index, link) in topology.links.enumerated() {
            target[Int(fill[link.from])] = Int32(link.to)
            linkOfArc[Int(fill[link.from])] = Int32(index)
            fill[link.from] += 1
            if link.bidirectional {
                target[Int(fill[link.to])] = Int32(link.from)
                linkOfArc[Int(fill[link.to])] = Int32(index)
                fill[link.to] += 1
            }
        }
        arcStart = start
        arcTarget = target
        arcLink = linkOfArc
        linkEnds = topology.links.map { (Int32($0.from), Int32($0.to)) }
    }

    /// The arcs leaving a node: (neighbour, link index).
    public func arcs(from node: Int) -> some Sequence<(node: Int, link: Int)> {
        (Int(arcStart[node])..<Int(arcStart[node + 1])).lazy.map { (Int(arcTarget[$0]), Int(arcLink[$0])) }
    }
}
