import Foundation

extension Topology {
    /// A seeded random network for benchmarks and simulations: nodes scattered over a continent,
    /// a spanning tree to nearby nodes so it is connected, then more links to near neighbours
    /// up to `links`; latency from distance, capacities of 10, 40 or 100 Gbps.
    public static func synthetic(nodes nodeCount: Int, links linkCount: Int, seed: UInt64) -> Topology {
        var rng = SeededGenerator(seed: seed)
        let nodes = (0..<nodeCount).map { index in
            Node(
                id: "n\(index)",
                region: "r\(index % 8)",
                location: GeoLocation(latitude: Double.random(in: 25...50, using: &rng), longitude: Double.random(in: -125...(-70), using: &rng))
            )
        }
        var links: [Link] = []
        var seen = Set<Int>()
        func connect(_ a: Int, _ b: Int) {
            guard a != b, seen.insert(min(a, b) * nodeCount + max(a, b)).inserted else { return }
            let distance = nodes[a].location!.distanceKm(to: nodes[b].location!)
            links.append(Link(
                id: "n\(a)-n\(b)", from: a, to: b, latencyMs: max(0.05, distance / 200),
                capacityGbps: [10, 40, 100].randomElement(using: &rng)!, cost: 1, latencyDerived: false
            ))
        }
        func nearby(_ node: Int, among candidates: Range<Int>, tries: Int) -> Int {
            var best = candidates.randomElement(using: &rng)!
            for _ in 0..<tries {
                let other = candidates.randomElement(using: &rng)!
                if nodes[node].location!.distanceKm(to: nodes[other].location!) < nodes[node].location!.distanceKm(to: nodes[best].location!) { best = other }
            }
            return best
        }
        for node in 1..<max(1, nodeCount) { connect(node, nearby(node, among: 0..<node, tries: 12)) }
        var attempts = 0
        while links.count < linkCount, attempts < linkCount * 20 {
            attempts += 1
            let node = Int.random(in: 0..<nodeCount, using: &rng)
            connect(node, nearby(node, among: 0..<nodeCount, tries: 12))
        }
        return Topology(name: "synthetic-\(nodeCount)", source: "generated, seed \(seed)", nodes: nodes, links: links, pools: [])
    }

    /// Adds `count` pools of assorted shapes at random nodes: CPU pools, GPU pools of several
    /// models, fast and slow, cheap and dear.
    public func withSyntheticPools(_ count: Int, seed: UInt64) -> Topology {
        var rng = SeededGenerator(seed: seed)
        var copy = self
        let models = ["A100", "H100", "V100", "L40S"]
        for index in 0..<count {
            let cores = [32.0, 64, 128, 256, 512].randomElement(using: &rng)!
            var gpus: [String: Int] = [:]
            var gpuPrice: [String: Double] = [:]
            if Double.random(in: 0..<1, using: &rng) < 0.4 {
                let model = models.randomElement(using: &rng)!
                gpus[model] = [4, 8, 16].randomElement(using: &rng)!
                gpuPrice[model] = Double.random(in: 0.8...4, using: &rng)
            }
            copy.pools.append(Pool(
                id: "pool\(index)", node: Int.random(in: 0..<nodes.count, using: &rng),
                capacity: Resources(cpuCores: cores, memoryBytes: UInt64(cores * 4) << 30, gpus: gpus),
                labels: ["tier": gpus.isEmpty ? "cpu" : "ai"],
                price: Price(cpuCoreHour: Double.random(in: 0.005...0.06, using: &rng), gpuHour: gpuPrice),
                speed: [0.8, 1, 1.2, 1.5].randomElement(using: &rng)!,
                queueWaitS: Double(Int.random(in: 0...120, using: &rng)),
                processingLatencyMs: Double.random(in: 0...2, using: &rng)
            ))
        }
        return copy
    }
}

/// SplitMix64: a small seeded generator, so generated networks are the same on every machine.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
