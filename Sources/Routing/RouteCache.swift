import Topology

/// Searches from ingress nodes, cached against the network state's versions so that they are
/// recomputed only on the first use after a change (however many changes came in between).
public struct RouteCache: Sendable {
    private struct Entry {
        var version: UInt64
        var tree: PathTree
    }

    private struct LevelSet {
        var version: UInt64
        /// Distinct available bandwidths of the up slots, descending.
        var levels: [Double]
        var trees: [PathTree?]
    }

    private struct Key: Hashable {
        var ingress: Int
        var minimumGbps: Double
    }

    private var latencyTrees: [Int: Entry] = [:]
    private var constrainedTrees: [Key: Entry] = [:]
    private var levelSets: [Int: LevelSet] = [:]
    /// Dijkstra runs so far: what coalescing saves shows here.
    public private(set) var searches = 0
    private static let maximumEntries = 4_096

    public init() {}

    /// Shortest-latency paths from `ingress` over the links that are up.
    public mutating func latencyTree(_ state: NetworkState, from ingress: Int) -> PathTree {
        if let entry = latencyTrees[ingress], entry.version == state.routeVersion { return entry.tree }
        if latencyTrees.count >= Self.maximumEntries { latencyTrees.removeAll() }
        searches += 1
        let tree = state.graph.shortestPaths(from: ingress, limits: state.limits(bandwidthAware: false))
        latencyTrees[ingress] = Entry(version: state.routeVersion, tree: tree)
        return tree
    }

    /// Shortest-latency paths from `ingress` over links with at least `minimumGbps` available.
    public mutating func constrainedTree(_ state: NetworkState, from ingress: Int, minimumGbps: Double) -> PathTree {
        let key = Key(ingress: ingress, minimumGbps: minimumGbps)
        if let entry = constrainedTrees[key], entry.version == state.availabilityVersion { return entry.tree }
        if constrainedTrees.count >= Self.maximumEntries { constrainedTrees.removeAll() }
        searches += 1
        let tree = state.graph.shortestPaths(from: ingress, limits: state.limits(minimumGbps: minimumGbps, bandwidthAware: true))
        constrainedTrees[key] = Entry(version: state.availabilityVersion, tree: tree)
        return tree
    }

    /// The best route from `ingress` to each target for moving `dataBytes`, among routes whose
    /// latency fits the target's limit:
    ///
    /// - with `minimumGbps` > 0, the data moves at the reserved rate, so the best route is the
    ///   lowest-latency one among links with that much available;
    /// - otherwise it is the quickest path, minimising latency + data / bottleneck, found by the
    ///   threshold method: one shortest-latency search per distinct available bandwidth, highest
    ///   first, stopping once a lower level cannot beat what was found for any target (with no
    ///   data, the lowest-latency path). Each level's path is the lowest-latency one with at least
    ///   that bottleneck, so filtering each level by the latency limit keeps the method exact.
    public mutating func select(_ state: NetworkState, from ingress: Int, targets: [RouteTarget], minimumGbps: Double, dataBytes: Double) -> RouteSelection {
        if minimumGbps > 0 {
            let tree = constrainedTree(state, from: ingress, minimumGbps: minimumGbps)
            return RouteSelection(state: state, targets: targets, trees: [tree], choice: nil)
        }
        let base = latencyTree(state, from: ingress)
        guard dataBytes > 0 else { return RouteSelection(state: state, targets: targets, trees: [base], choice: nil) }

        let bits = dataBytes * 8
        func value(_ tree: PathTree, _ target: RouteTarget) -> Double {
            let latency = tree.distance[target.node]
            guard latency.isFinite, latency <= target.latencyLimitMs else { return .infinity }
            if target.node == ingress { return 0 }
            let width = state.walk(tree, to: target.node).bottleneckGbps
            return latency / 1_000 + (width > 0 ? bits / (width * 1e9) : .infinity)
        }
        var best = targets.map { (value: value(base, $0), tree: Int32(0)) }
        var trees = [base]
        var levels = levelSet(state, from: ingress)
        defer { levelSets[ingress] = levels }
        for index in levels.levels.indices {
            // Paths found from here on have a bottleneck of at most this level.
            let canImprove = targets.indices.contains { target in
                let latency = base.distance[targets[target].node]
                return latency.isFinite && latency <= targets[target].latencyLimitMs
                    && latency / 1_000 + bits / (levels.levels[index] * 1e9) < best[target].value
            }
            guard canImprove else { break }
            let tree: PathTree
            if let cached = levels.trees[index] {
                tree = cached
            } else {
                searches += 1
                tree = state.graph.shortestPaths(from: ingress, limits: state.limits(minimumGbps: levels.levels[index], bandwidthAware: true))
                levels.trees[index] = tree
            }
            trees.append(tree)
            for target in targets.indices {
                let candidate = value(tree, targets[target])
                if candidate < best[target].value { best[target] = (candidate, Int32(trees.count - 1)) }
            }
        }
        return RouteSelection(state: state, targets: targets, trees: trees, choice: best.map(\.tree))
    }

    private mutating func levelSet(_ state: NetworkState, from ingress: Int) -> LevelSet {
        if let set = levelSets[ingress], set.version == state.availabilityVersion { return set }
        if levelSets.count >= Self.maximumEntries { levelSets.removeAll() }
        let levels = Set(state.availableGbps.filter { $0 > 0 }).sorted(by: >)
        return LevelSet(version: state.availabilityVersion, levels: levels, trees: Array(repeating: nil, count: levels.count))
    }

    /// Up to `count` loopless paths from `source` to `target` in order of latency (Yen's
    /// algorithm), over links with at least `minimumGbps` available.
    public mutating func alternatives(_ state: NetworkState, from source: Int, to target: Int, count: Int, minimumGbps: Double = 0) -> [Path] {
        guard count > 0 else { return [] }
        let baseLimits = state.limits(minimumGbps: minimumGbps, bandwidthAware: minimumGbps > 0)
        var limits = baseLimits
        limits.target = target
        searches += 1
        let first = state.graph.shortestPaths(from: source, limits: limits)
        guard let firstPath = state.path(in: first, to: target) else { return [] }
        var found = [firstPath]
        var candidates: [Path] = []
        while found.count < count {
            let previous = found[found.count - 1]
            for spur in 0..<max(0, previous.nodes.count - 1) {
                let rootNodes = Array(previous.nodes[0...spur])
                let rootSlots = Array(previous.slots[0..<spur])
                var spurLimits = baseLimits
                spurLimits.target = target
                // Parallel links make the same nodes different roots: compare the slots.
                for path in found where path.slots.count > spur && Array(path.slots[0..<spur]) == rootSlots {
                    spurLimits.excludedSlots.insert(path.slots[spur])
                }
                spurLimits.excludedNodes = Set(rootNodes.dropLast())
                searches += 1
                let tree = state.graph.shortestPaths(from: rootNodes[spur], limits: spurLimits)
                guard let spurNodes = tree.nodes(to: target), let spurSlots = tree.slots(to: target) else { continue }
                let candidate = state.path(nodes: rootNodes.dropLast() + spurNodes, slots: rootSlots + spurSlots)
                if !found.contains(where: { $0.slots == candidate.slots }), !candidates.contains(where: { $0.slots == candidate.slots }) {
                    candidates.append(candidate)
                }
            }
            guard let next = candidates.indices.min(by: { (candidates[$0].latencyMs, candidates[$0].hops) < (candidates[$1].latencyMs, candidates[$1].hops) }) else { break }
            found.append(candidates.remove(at: next))
        }
        return found
    }
}
