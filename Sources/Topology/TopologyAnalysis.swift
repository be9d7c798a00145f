extension Topology {
    /// The network's connected parts (links in either direction, up or down), largest first;
    /// each part lists node indexes in ascending order.
    public func connectedComponents() -> [[Int]] {
        var parent = Array(nodes.indices)
        func root(_ node: Int) -> Int {
            var node = node
            while parent[node] != node {
                parent[node] = parent[parent[node]]
                node = parent[node]
            }
            return node
        }
        for link in links {
            let (a, b) = (root(link.from), root(link.to))
            if a != b { parent[max(a, b)] = min(a, b) }
        }
        var parts: [Int: [Int]] = [:]
        for node in nodes.indices { parts[root(node), default: []].append(node) }
        return parts.values.sorted { ($0.count, -$0[0]) > ($1.count, -$1[0]) }
    }

    /// The node closest to a point by great-circle distance, among nodes with a location.
    public func nearestNode(to point: GeoLocation) -> (node: Int, distanceKm: Double)? {
        var best: (Int, Double)?
        for (index, node) in nodes.enumerated() {
            guard let location = node.location else { continue }
            let distance = location.distanceKm(to: point)
            if distance < (best?.1 ?? .infinity) { best = (index, distance) }
        }
        return best
    }

    /// Regions named by nodes, sorted.
    public var regions: [String] {
        Set(nodes.compactMap(\.region)).sorted()
    }

    /// The pools' combined capacity.
    public var totalCapacity: Resources {
        var total = Resources()
        for pool in pools {
            total.cpuCores += pool.capacity.cpuCores
            total.memoryBytes += pool.capacity.memoryBytes
            total.gpus.merge(pool.capacity.gpus, uniquingKeysWith: +)
        }
        return total
    }
}
