import HeapModule

/// The link a directed slot belongs to.
@inline(__always) public func link(ofSlot slot: Int) -> Int { slot >> 1 }

/// Shortest-latency paths from one source, as found by Dijkstra's algorithm, with the
/// bottleneck available bandwidth along each tree path.
public struct PathTree: Sendable {
    public let source: Int
    /// Latency to each node in ms; infinity where unreachable.
    public let distance: [Double]
    /// The smallest available bandwidth along the tree path to each node, in Gbps; infinity at
    /// the source.
    public let bottleneck: [Double]
    let parentSlot: [Int32]
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

    /// Directed slots from the source to `node`, in order, or nil when unreachable.
    public func slots(to node: Int) -> [Int]? {
        guard distance[node].isFinite else { return nil }
        var path: [Int] = []
        var current = node
        while current != source {
            path.append(Int(parentSlot[current]))
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

/// What a search may use and what it must avoid.
public struct SearchLimits {
    /// Latency per link in ms; infinity removes the link.
    public var latency: [Double]
    /// Available bandwidth per slot in Gbps; nil when bandwidth does not matter.
    public var available: [Double]?
    /// Slots with less available bandwidth than this are not used.
    public var minimumGbps: Double = 0
    /// Nodes the search may not pass through (Yen's spur searches).
    public var excludedNodes: Set<Int> = []
    /// Slots the search may not use.
    public var excludedSlots: Set<Int> = []
    /// Stop as soon as this node is settled.
    public var target: Int?

    public init(latency: [Double], available: [Double]? = nil, minimumGbps: Double = 0) {
        self.latency = latency
        self.available = available
        self.minimumGbps = minimumGbps
    }
}

extension NetworkGraph {
    /// Dijkstra from `source` within `limits`. Ties between equal distances go to the lower node
    /// index, so results are deterministic.
    public func shortestPaths(from source: Int, limits: SearchLimits) -> PathTree {
        precondition(limits.latency.count == linkCount, "one latency per link")
        var distance = [Double](repeating: .infinity, count: nodeCount)
        var bottleneck = [Double](repeating: 0, count: nodeCount)
        var parentSlot = [Int32](repeating: -1, count: nodeCount)
        var parentNode = [Int32](repeating: -1, count: nodeCount)
        var settled = [Bool](repeating: false, count: nodeCount)
        let hasExclusions = !limits.excludedNodes.isEmpty || !limits.excludedSlots.isEmpty
        var queue = Heap<QueueEntry>()
        distance[source] = 0
        bottleneck[source] = .infinity
        queue.insert(QueueEntry(distance: 0, node: Int32(source)))
        while let entry = queue.popMin() {
            let node = Int(entry.node)
            if settled[node] { continue }
            settled[node] = true
            if node == limits.target { break }
            for arc in Int(arcStart[node])..<Int(arcStart[node + 1]) {
                let slot = Int(arcSlot[arc])
                let w = limits.latency[slot >> 1]
                guard w < .infinity else { continue }
                var width = Double.infinity
                if let available = limits.available {
                    width = available[slot]
                    guard width >= limits.minimumGbps else { continue }
                }
                let next = Int(arcTarget[arc])
                if hasExclusions, limits.excludedNodes.contains(next) || limits.excludedSlots.contains(slot) { continue }
                let candidate = entry.distance + w
                if candidate < distance[next] {
                    distance[next] = candidate
                    bottleneck[next] = min(bottleneck[node], width)
                    parentSlot[next] = Int32(slot)
                    parentNode[next] = Int32(node)
                    queue.insert(QueueEntry(distance: candidate, node: Int32(next)))
                }
            }
        }
        return PathTree(source: source, distance: distance, bottleneck: bottleneck, parentSlot: parentSlot, parentNode: parentNode)
    }

    /// The largest shortest-path latency over pairs of connected nodes; infinite latency removes
    /// a link.
    public func latencyDiameter(latency: [Double]) -> LatencyDiameter? {
        var best: LatencyDiameter?
        let limits = SearchLimits(latency: latency)
        for source in 0..<nodeCount {
            let tree = shortestPaths(from: source, limits: limits)
            for (node, distance) in tree.distance.enumerated() where distance.isFinite && distance > (best?.latencyMs ?? -1) {
                best = LatencyDiameter(latencyMs: distance, from: source, to: node)
            }
        }
        return best
    }
}

/// The longest of the shortest latencies between two connected nodes.
public struct LatencyDiameter: Sendable {
    public var latencyMs: Double
    public var from: Int
    public var to: Int
}
