import HeapModule

/// Shortest paths from one source under per-link weights, as found by Dijkstra's algorithm.
public struct ShortestPathTree: Sendable {
    public let source: Int
    /// Distance to each node; infinity where unreachable.
    public let distance: [Double]
    /// The link used to reach each node, -1 for the source and unreachable nodes.
    let parentLink: [Int32]
    let parentNode: [Int32]

    public func isReachable(_ node: Int) -> Bool { distance[node].isFinite }

    /// Nodes from the source to `node`, or nil when unreachable.
    public func nodes(to node: Int) -> [Int]? {
        guard distance[node].isFinite else { return nil }
        var path = [node]
        var current = node
        while current != source {
            current = Int(parentNode[current])
            path.append(current)
        }
        return path.reversed()
    }

    /// Links from the source to `node`, in order, or nil when unreachable.
    public func links(to node: Int) -> [Int]? {
        guard distance[node].isFinite else { return nil }
        var path: [Int] = []
        var current = node
        while current != source {
            path.append(Int(parentLink[current]))
            current = Int(parentNode[current])
        }
        return path.reversed()
    }
}

private struct QueueEntry: Comparable {
    var distance: Double
    var node: Int32

    static func < (a: QueueEntry, b: QueueEntry) -> Bool {
        (a.distance, a.node) < (b.distance, b.node)
    }
}

extension NetworkGraph {
    /// Dijkstra from `source` with `weight[link]` per link; a weight of infinity (or NaN) removes
    /// the link. Ties between equal distances go to the lower node index, so results are
    /// deterministic.
    public func shortestPaths(from source: Int, weight: [Double]) -> ShortestPathTree {
        precondition(weight.count == linkCount, "one weight per link")
        var distance = [Double](repeating: .infinity, count: nodeCount)
        var parentLink = [Int32](repeating: -1, count: nodeCount)
        var parentNode = [Int32](repeating: -1, count: nodeCount)
        var settled = [Bool](repeating: false, count: nodeCount)
        var queue = Heap<QueueEntry>()
        distance[source] = 0
        queue.insert(QueueEntry(distance: 0, node: Int32(source)))
        while let entry = queue.popMin() {
            let node = Int(entry.node)
            if settled[node] { continue }
            settled[node] = true
            for arc in Int(arcStart[node])..<Int(arcStart[node + 1]) {
                let link = Int(arcLink[arc])
                let w = weight[link]
                guard w < .infinity else { continue }
                let next = Int(arcTarget[arc])
                let candidate = entry.distance + w
                if candidate < distance[next] {
                    distance[next] = candidate
                    parentLink[next] = Int32(link)
                    parentNode[next] = Int32(node)
                    queue.insert(QueueEntry(distance: candidate, node: Int32(next)))
                }
            }
        }
        return ShortestPathTree(source: source, distance: distance, parentLink: parentLink, parentNode: parentNode)
    }
}

/// Facts about a topology's latencies, for `topology show`.
public struct LatencyDiameter: Sendable {
    /// The largest shortest-path latency between two connected nodes, in ms.
    public var latencyMs: Double
    public var from: Int
    public var to: Int
}

extension NetworkGraph {
    /// The largest shortest-path latency over pairs of connected nodes, over links that are up.
    public func latencyDiameter(latency: [Double]) -> LatencyDiameter? {
        var best: LatencyDiameter?
        for source in 0..<nodeCount {
            let tree = shortestPaths(from: source, weight: latency)
            for (node, distance) in tree.distance.enumerated() where distance.isFinite && distance > (best?.latencyMs ?? -1) {
                best = LatencyDiameter(latencyMs: distance, from: source, to: node)
            }
        }
        return best
    }
}
