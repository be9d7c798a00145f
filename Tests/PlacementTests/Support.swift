import Routing
import Topology


/// A random network: some one-way links, some down, parallel links allowed, a few capacities.
func randomTopology(nodes: Int, links: Int, pools: Int = 0, using rng: inout SeededGenerator) -> Topology {
    let nodeList = (0..<nodes).map { Topology.Node(id: "n\($0)") }
    var linkList: [Topology.Link] = []
    for index in 0..<links {
        let from = Int.random(in: 0..<nodes, using: &rng)
        var to = Int.random(in: 0..<nodes - 1, using: &rng)
        if to >= from { to += 1 }
        linkList.append(Topology.Link(
            id: "l\(index)", from: from, to: to,
            bidirectional: Double.random(in: 0..<1, using: &rng) > 0.2,
            latencyMs: Double(Int.random(in: 1...40, using: &rng)) / 2,
            capacityGbps: [1, 2.5, 10, 40].randomElement(using: &rng)!,
            cost: Double(Int.random(in: 1...3, using: &rng)),
            isUp: Double.random(in: 0..<1, using: &rng) > 0.1
        ))
    }
    let poolList = (0..<pools).map { index in
        Topology.Pool(
            id: "p\(index)", node: Int.random(in: 0..<nodes, using: &rng),
            capacity: Resources(cpuCores: Double(Int.random(in: 1...64, using: &rng)), memoryBytes: UInt64(Int.random(in: 1...256, using: &rng)) << 30),
            speed: [0.5, 1, 1.5, 2].randomElement(using: &rng)!,
            queueWaitS: Double(Int.random(in: 0...30, using: &rng)),
            processingLatencyMs: Double(Int.random(in: 0...4, using: &rng))
        )
    }
    return Topology(name: "random", nodes: nodeList, links: linkList, pools: poolList)
}

/// Every simple path from `source` to `target` over up links, as slots, by exhaustive search.
func simplePaths(_ state: NetworkState, from source: Int, to target: Int) -> [[Int]] {
    var paths: [[Int]] = []
    var visited = Set([source])
    var slots: [Int] = []
    func extend(_ node: Int) {
        if node == target {
            paths.append(slots)
            return
        }
        for arc in state.graph.arcs(from: node) where !visited.contains(arc.node) && state.isUp[link(ofSlot: arc.slot)] {
            visited.insert(arc.node)
            slots.append(arc.slot)
            extend(arc.node)
            slots.removeLast()
            visited.remove(arc.node)
        }
    }
    extend(source)
    return paths
}

/// Latency and bottleneck of a path given by slots.
func metrics(_ state: NetworkState, _ slots: [Int]) -> (latency: Double, bottleneck: Double) {
    (slots.reduce(0) { $0 + state.latencyMs(link: link(ofSlot: $1)) }, slots.map { state.availableGbps[$0] }.min() ?? .infinity)
}

func close(_ a: Double, _ b: Double) -> Bool {
    if a == b { return true }
    return abs(a - b) <= 1e-9 * max(1, abs(a), abs(b))
}
