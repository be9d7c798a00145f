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

    /// Starts choosing routes from `ingress` to `targets` for moving `dataBytes`, among routes
    /// whose latency fits each target's limit. The work per target happens in `resolve`, only
    /// for the targets asked about, and is remembered in the selection:
    ///
    /// - with `minimumGbps` > 0, the data moves at the reserved rate, so the best route is the
    ///   lowest-latency one among links with that much available;
    /// - with no data, it is the lowest-latency path;
    /// - otherwise it is the quickest path, minimising latency + data / bottleneck, found by the
    ///   threshold method: per distinct available bandwidth (highest first), the lowest-latency
    ///   path over links with at least that much, stopping once a lower level cannot beat what
    ///   was found. Each level's path is the lowest-latency one with at least that bottleneck,
    ///   so filtering levels by the latency limit keeps the method exact. Level searches are
    ///   cached until availability changes.
    public mutating func select(_ state: NetworkState, from ingress: Int, targets: [RouteTarget], minimumGbps: Double, dataBytes: Double) -> RouteSelection {
        let base = minimumGbps > 0 ? constrainedTree(state, from: ingress, minimumGbps: minimumGbps) : latencyTree(state, from: ingress)
        let quickest = minimumGbps == 0 && dataBytes > 0
        var levels = LevelSet(version: 0, levels: [], trees: [])
        if quickest {
            levels = levelSet(state, from: ingress)
            levelSets[ingress] = levels
        }
        return RouteSelection(
            ingress: ingress, bits: quickest ? dataBytes * 8 : 0, targets: targets, base: base,
            outcomes: Array(repeating: nil, count: targets.count), chosenLevel: Array(repeating: -1, count: targets.count),
            levels: levels.levels, levelTrees: levels.trees
        )
    }

    /// The route the selection chooses for the target at `index`.
    public mutating func resolve(_ selection: inout RouteSelection, _ index: Int, in state: NetworkState) -> RouteOutcome {
        if let known = selection.outcomes[index] { return known }
        let target = selection.targets[index]
        let base = selection.base
        let lowest = base.distance[target.node]
        let outcome: RouteOutcome
        if !lowest.isFinite {
            outcome = .none
        } else if lowest > target.latencyLimitMs {
            outcome = .overLimit(lowestLatencyMs: lowest)
        } else if selection.bits == 0 || target.node == selection.ingress {
            outcome = .found(state.walk(base, to: target.node))
        } else {
            let bits = selection.bits
            func value(_ route: Route) -> Double {
                route.bottleneckGbps > 0 ? route.latencyMs / 1_000 + bits / (route.bottleneckGbps * 1e9) : .infinity
            }
            var best = state.walk(base, to: target.node)
            var bestValue = value(best)
            var chosen = -1
            for level in selection.levels.indices {
                // Paths found from here on have a bottleneck of at most this level.
                guard lowest / 1_000 + bits / (selection.levels[level] * 1e9) < bestValue else { break }
                let tree: PathTree
                if let known = selection.levelTrees[level] {
                    tree = known
                } else {
                    searches += 1
                    tree = state.graph.shortestPaths(from: selection.ingress, limits: state.limits(minimumGbps: selection.levels[level], bandwidthAware: true))
                    selection.levelTrees[level] = tree
                    if levelSets[selection.ingress]?.version == state.availabilityVersion {
                        levelSets[selection.ingress]?.trees[level] = tree
                    }
                }
                let latency = tree.distance[target.node]
                guard latency.isFinite, latency <= target.latencyLimitMs else { continue }
                let route = state.walk(tree, to: target.node)
                if value(route) < bestValue {
                    best = route
                    bestValue = value(route)
                    chosen = level
                }
            }
            selection.chosenLevel[index] = Int32(chosen)
            outcome = .found(best)
        }
        selection.outcomes[index] = outcome
        return outcome
    }

    /// The chosen path to the target at `index`, with its nodes and slots.
    public mutating func path(_ selection: inout RouteSelection, _ index: Int, in state: NetworkState) -> Path? {
        guard case .found = resolve(&selection, index, in: state) else { return nil }
        let level = Int(selection.chosenLevel[index])
        let tree = level < 0 ? selection.base : selection.levelTrees[level]!
        return state.path(in: tree, to: selection.targets[index].node)
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
