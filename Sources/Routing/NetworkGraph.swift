import Topology

/// A topology's links as directed arcs in compressed adjacency arrays, for fast searches.
///
/// A bidirectional link becomes two arcs; each direction of a link is a *slot* (`link * 2` for
/// `from → to`, `link * 2 + 1` for `to → from`) with its own bandwidth held, since a
/// bidirectional link carries its full capacity each way.
public struct NetworkGraph: Sendable {
    public let nodeCount: Int
    public let linkCount: Int
    /// Arcs leaving node `n` are `arcStart[n] ..< arcStart[n + 1]`.
    let arcStart: [Int32]
    let arcTarget: [Int32]
    let arcSlot: [Int32]

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
        var slot = [Int32](repeating: 0, count: Int(start[nodeCount]))
        for (index, link) in topology.links.enumerated() {
            target[Int(fill[link.from])] = Int32(link.to)
            slot[Int(fill[link.from])] = Int32(index * 2)
            fill[link.from] += 1
            if link.bidirectional {
                target[Int(fill[link.to])] = Int32(link.from)
                slot[Int(fill[link.to])] = Int32(index * 2 + 1)
                fill[link.to] += 1
            }
        }
        arcStart = start
        arcTarget = target
        arcSlot = slot
    }

    /// The arcs leaving a node: the neighbour and the directed slot used.
    public func arcs(from node: Int) -> [(node: Int, slot: Int)] {
        (Int(arcStart[node])..<Int(arcStart[node + 1])).map { (Int(arcTarget[$0]), Int(arcSlot[$0])) }
    }
}
