import Routing
import Testing
import Topology

@Suite("Paths against exhaustive search")
struct RoutingPropertyTests {
    /// Random graphs with random bandwidth held, so available bandwidths differ per direction.
    func randomState(seed: UInt64) -> (NetworkState, SeededGenerator) {
        var rng = SeededGenerator(seed: seed)
        let topology = randomTopology(nodes: Int.random(in: 4...7, using: &rng), links: Int.random(in: 5...12, using: &rng), using: &rng)
        var state = NetworkState(topology)
        for _ in 0..<Int.random(in: 0...6, using: &rng) {
            let arcs = (0..<topology.nodes.count).flatMap { state.graph.arcs(from: $0).map(\.slot) }
            guard let slot = arcs.randomElement(using: &rng) else { break }
            let amount = [0.5, 1, 2, 5].randomElement(using: &rng)!
            if state.canHold(amount, on: [slot]) { state.hold(amount, on: [slot]) }
        }
        return (state, rng)
    }

    @Test(arguments: 0..<150)
    func shortestConstrainedAndQuickestPathsAreOptimal(seed: Int) {
        var (state, rng) = randomState(seed: UInt64(seed))
        var cache = RouteCache()
        let nodes = state.topology.nodes.count
        let source = Int.random(in: 0..<nodes, using: &rng)
        let targets = (0..<nodes).map { RouteTarget(node: $0) }
        let minimum = [0, 1, 2.5, 10].randomElement(using: &rng)!
        let data = [0, 1e8, 1e9, 2e10, 5e11].randomElement(using: &rng)!
        let limit = [Double.infinity, 5, 12, 25].randomElement(using: &rng)!
        let limited = (0..<nodes).map { RouteTarget(node: $0, latencyLimitMs: limit) }

        var shortest = cache.select(state, from: source, targets: targets, minimumGbps: 0, dataBytes: 0)
        var constrained = cache.select(state, from: source, targets: targets, minimumGbps: minimum, dataBytes: 0)
        var quickest = cache.select(state, from: source, targets: limited, minimumGbps: 0, dataBytes: data)

        for target in 0..<nodes {
            let paths = simplePaths(state, from: source, to: target).map { metrics(state, $0) }
            // Shortest latency.
            let best = paths.map(\.latency).min()
            if case .found(let route) = cache.resolve(&shortest, target, in: state) {
                #expect(best.map { close(route.latencyMs, $0) } == true, "seed \(seed): shortest to \(target)")
            } else {
                #expect(best == nil, "seed \(seed): a path to \(target) exists")
            }
            // Lowest latency with the minimum bandwidth on every link.
            let wide = paths.filter { minimum == 0 || $0.bottleneck >= minimum }.map(\.latency).min()
            if case .found(let route) = cache.resolve(&constrained, target, in: state) {
                #expect(wide.map { close(route.latencyMs, $0) } == true, "seed \(seed): constrained to \(target)")
                #expect(minimum == 0 || route.bottleneckGbps >= minimum)
            } else {
                #expect(wide == nil, "seed \(seed): a path with \(minimum) Gbps to \(target) exists")
            }
            // Quickest for the data, within the latency limit.
            func value(_ path: (latency: Double, bottleneck: Double)) -> Double {
                if target == source { return 0 }
                if data == 0 { return path.latency / 1_000 }
                return path.bottleneck > 0 ? path.latency / 1_000 + data * 8 / (path.bottleneck * 1e9) : .infinity
            }
            let fitting = paths.filter { $0.latency <= limit }
            let quickestValue = fitting.map(value).min()
            #expect(cache.path(&quickest, target, in: state).map { metrics(state, $0.slots).latency } == {
                if case .found(let route) = cache.resolve(&quickest, target, in: state) { return route.latencyMs }
                return nil
            }())
            switch cache.resolve(&quickest, target, in: state) {
            case .found(let route):
                #expect(quickestValue.map { close(value((route.latencyMs, route.bottleneckGbps)), $0) } == true, "seed \(seed): quickest to \(target) for \(data) bytes")
                #expect(route.latencyMs <= limit)
            case .overLimit(let lowest):
                #expect(fitting.isEmpty, "seed \(seed): a path within \(limit) ms exists")
                #expect(paths.map(\.latency).min().map { close(lowest, $0) } == true)
            case .none:
                #expect(paths.isEmpty, "seed \(seed): a path to \(target) exists")
            }
        }
    }

    @Test(arguments: 0..<40)
    func alternativesAreLooplessDistinctAndInLatencyOrder(seed: Int) {
        var (state, rng) = randomState(seed: UInt64(1_000 + seed))
        var cache = RouteCache()
        let nodes = state.topology.nodes.count
        let source = Int.random(in: 0..<nodes, using: &rng)
        var target = Int.random(in: 0..<nodes - 1, using: &rng)
        if target >= source { target += 1 }
        let k = 4
        let found = cache.alternatives(state, from: source, to: target, count: k)
        let all = simplePaths(state, from: source, to: target).map { metrics(state, $0).latency }.sorted()
        #expect(found.count == min(k, all.count))
        for (index, path) in found.enumerated() {
            #expect(Set(path.nodes).count == path.nodes.count, "loopless")
            #expect(path.nodes.first == source && path.nodes.last == target)
            #expect(close(path.latencyMs, all[index]), "seed \(seed): alternative \(index) is the \(index + 1)th shortest")
        }
        #expect(Set(found.map(\.slots)).count == found.count)
    }

    @Test func aBurstOfChangesCostsOneRecomputation() {
        var rng = SeededGenerator(seed: 99)
        let topology = randomTopology(nodes: 40, links: 120, using: &rng)
        var state = NetworkState(topology)
        var cache = RouteCache()
        let targets = [RouteTarget(node: 5)]
        _ = cache.select(state, from: 0, targets: targets, minimumGbps: 0, dataBytes: 0)
        #expect(cache.searches == 1)
        _ = cache.select(state, from: 0, targets: targets, minimumGbps: 0, dataBytes: 0)
        #expect(cache.searches == 1, "no change, no search")
        for change in 0..<1_000 {
            state.setLink(change % topology.links.count, up: change % 3 != 0)
        }
        _ = cache.select(state, from: 0, targets: targets, minimumGbps: 0, dataBytes: 0)
        _ = cache.select(state, from: 0, targets: targets, minimumGbps: 0, dataBytes: 0)
        #expect(cache.searches == 2, "1,000 changes, one recomputation")
    }

    @Test func bandwidthHoldsLeaveLatencySearchesCached() {
        var rng = SeededGenerator(seed: 5)
        let topology = randomTopology(nodes: 10, links: 20, using: &rng)
        var state = NetworkState(topology)
        var cache = RouteCache()
        _ = cache.latencyTree(state, from: 0)
        let slot = state.graph.arcs(from: topology.links[0].from).first!.slot
        state.hold(0.5, on: [slot])
        _ = cache.latencyTree(state, from: 0)
        #expect(cache.searches == 1)
        _ = cache.constrainedTree(state, from: 0, minimumGbps: 1)
        state.release(0.5, on: [slot])
        _ = cache.constrainedTree(state, from: 0, minimumGbps: 1)
        #expect(cache.searches == 3, "bandwidth-aware searches follow holds")
    }
}
