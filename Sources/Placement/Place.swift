import Routing
import Topology

/// A pool that passed the checks needing no path, with the lower bound of its objective value.
private struct Contender {
    var bound: Double
    var pool: Int32
    var model: Int32
    var target: Int32
    /// Whether its start comes from the pool's plan (it has no room now, or jobs planned on it).
    var planned: Bool

    @inline(__always) func precedes(_ other: Contender) -> Bool {
        bound < other.bound || (bound == other.bound && pool < other.pool)
    }
}

/// A binary min-heap over contenders, built in linear time; only the few contenders a decision
/// looks at are ever popped.
private struct ContenderHeap {
    private var items: [Contender]

    init(_ items: [Contender]) {
        self.items = items
        var index = items.count / 2
        while index > 0 {
            index -= 1
            siftDown(index)
        }
    }

    var count: Int { items.count }

    mutating func popMin() -> Contender? {
        guard let last = items.popLast() else { return nil }
        guard !items.isEmpty else { return last }
        let first = items[0]
        items[0] = last
        siftDown(0)
        return first
    }

    private mutating func siftDown(_ start: Int) {
        items.withUnsafeMutableBufferPointer { heap in
            var parent = start
            let item = heap[parent]
            while true {
                var child = 2 * parent + 1
                guard child < heap.count else { break }
                if child + 1 < heap.count, heap[child + 1].precedes(heap[child]) { child += 1 }
                guard heap[child].precedes(item) else { break }
                heap[parent] = heap[child]
                parent = child
            }
            heap[parent] = item
        }
    }
}

extension PlacementEngine {
    /// Chooses a pool and a path for a request, reserving nothing: the feasibility checks in
    /// order (`Check`), then an estimate on each feasible pool's best path, then the best by the
    /// objective with ties broken by packing (`fragmentationGrowth`), then pool id. The best path
    /// is the quickest for the data within the latency budget (the lowest-latency one under the
    /// latency objective; under the cost objective transfer prices are added along the quickest
    /// path). With a plan horizon, a pool with no room now, or with jobs planned on it, offers the
    /// earliest start its plan allows (`Estimate.startS`), which the completion counts.
    ///
    /// Pools are estimated in order of a lower bound on their objective value (compute time for
    /// completion, resource price for cost, processing latency for latency); once the bound
    /// passes the last runner-up kept, the rest cannot win and are not estimated, unless the
    /// request asks for explanations.
    public mutating func place(_ request: PlacementRequest, now: Double) throws(PlacementError) -> Placement {
        guard let ingress = topology.node(request.ingress) else { throw .unknownIngress(request.ingress, likely: topology.nodeID(like: request.ingress)) }
        try validate(request)
        let planning = request.planHorizonS > 0
        if planning { extendOverruns(now: now) }
        // Decisions, not dry runs or the second search for reasons, make the expected mix.
        if !request.explain { mix.record(request) }
        /// How long a job runs on a pool as plans count it: the default when it gives no runtime.
        func plannedRuntime(_ pool: Int) -> Double { runtime > 0 ? runtime / hot.speed[pool] : defaultRuntimeS }
        let explain = request.explain
        let keep = max(0, request.alternatives) + 1
        let need = Int32(request.gpuCount)
        let screening = Screening(request, states: states, hot: hot, models: models, staleAfterS: staleAfterS, now: now)
        let allowedModels = screening.allowedModels
        let runtime = request.runtimeS

        // The latency objective wants the lowest-latency path whatever the data; the others the
        // quickest path for the data.
        let routedBytes = request.objective == .latency || request.policy == .networkOnly ? 0 : request.dataBytes
        let joint = request.policy == .joint
        var selection = routes.select(network, from: ingress, targets: [], minimumGbps: request.minBandwidthGbps, dataBytes: routedBytes)
        // The least time any transfer can take away from the ingress.
        let transferFloor: Double
        if request.dataBytes == 0 {
            transferFloor = 0
        } else if request.minBandwidthGbps > 0 {
            transferFloor = request.dataBytes * 8 / (request.minBandwidthGbps * 1e9)
        } else {
            let widest = selection.widestGbps
            transferFloor = widest.isFinite && widest > 0 ? request.dataBytes * 8 / (widest * 1e9) : 0
        }

        // The route cache changes while the network is read: one reference to the network for
        // the whole decision, instead of a copy each time a path is resolved.
        let frozenNetwork = network
        var rejections: [Rejection] = []
        var nodeTarget = [Int32](repeating: -1, count: network.graph.nodeCount)
        var nextTarget: [Int32] = []
        var top: [(value: Double, tie: Double?, pool: Int, model: Int, target: Int, estimate: Estimate)] = []
        var pruned = 0

        /// The pool checks (`Screening.verdict`); a contender with its lower bound, or nil
        /// (with the reason kept when explaining).
        func screen(_ pool: Int) -> Contender? {
            var model: Int
            let fitsNow: Bool
            switch screening.verdict(pool) {
            case .failed(let check):
                if explain { rejections.append(screening.rejection(pool, check)) }
                return nil
            case .admitted(let fits, let first):
                fitsNow = fits
                model = first
            }
            let node = Int(hot.node[pool])
            let lowest = selection.lowestLatencyMs(to: node)
            let limit = request.maxLatencyMs.map { $0 - hot.processing[pool] } ?? .infinity
            // Unreachable or over budget on every path: it cannot win, and only an explanation
            // needs to look further.
            if !explain, !(lowest <= limit) { return nil }
            let away = node == ingress ? 0 : lowest / 1_000 + transferFloor
            // A pool with no room now, or with jobs planned on it, gives the earliest start its
            // plan allows for the shortest the job could hold it: a bound on the real start.
            var start = now
            // A pool with jobs planned on it: even a job that fits now must not delay them.
            let planned = planning && (!fitsNow || plannedOnPool[pool] > 0)
            if planned {
                let shortest = (node == ingress ? 0 : lowest / 1_000) + hot.queue[pool] + plannedRuntime(pool)
                let choices = need > 0 ? allowedModels.filter { hot.totalGPUs(pool, $0) >= need } : [-1]
                var earliest: (start: Double, model: Int)?
                for choice in choices {
                    guard let at = Self.plannedStart(request, model: choice, on: pool, now: now, duration: shortest, horizon: request.planHorizonS,
                                                     profile: profiles[pool], held: leaseTotals[pool], hot: hot, state: states[pool], modelNames: models.names) else { continue }
                    if earliest.map({ at < $0.start }) ?? true { earliest = (at, choice) }
                }
                guard let earliest else {
                    if explain { rejections.append(screening.noStartWithinHorizon(pool)) }
                    return nil
                }
                start = earliest.start
                model = earliest.model
            }
            let bound: Double
            switch joint ? request.objective : nil {
            case nil:
                // The one-sided baselines are not pruned: every pool with room is scored (a
                // packing score may be below 0).
                bound = -.infinity
            case .completion:
                bound = start - now + hot.queue[pool] + runtime / hot.speed[pool] + away
            case .cost:
                bound = runtime / hot.speed[pool] / 3_600 * (request.cpuCores * hot.cpuPrice[pool] + request.gpuUnits * (model >= 0 ? hot.priceOfGPU(pool, model) : 0))
            case .latency:
                bound = hot.processing[pool] + lowest
            }
            // One route target per node and latency limit (limits differ with processing latency).
            var target = nodeTarget[node]
            while target >= 0, selection.targets[Int(target)].latencyLimitMs != limit { target = nextTarget[Int(target)] }
            if target < 0 {
                target = Int32(selection.add(RouteTarget(node: node, latencyLimitMs: limit)))
                nextTarget.append(nodeTarget[node])
                nodeTarget[node] = target
            }
            return Contender(bound: bound.isNaN ? .infinity : bound, pool: Int32(pool), model: Int32(model), target: target, planned: planned)
        }

        /// Whether a contender's bound shows it cannot enter the runners-up kept so far.
        func outclassed(_ bound: Double) -> Bool {
            !explain && top.count == keep && bound > top[keep - 1].value
        }

        /// The estimate on the contender's best path, kept when it ranks.
        func evaluate(_ contender: Contender) {
            let pool = Int(contender.pool)
            let route: Route
            switch routes.resolve(&selection, Int(contender.target), in: frozenNetwork) {
            case .found(let found):
                route = found
            case .overLimit(let lowest):
                if explain { rejections.append(screening.overBudget(pool, lowestMs: lowest)) }
                return
            case .none:
                if explain { rejections.append(pathRejection(pool, request: request, ingress: ingress)) }
                return
            }
            var estimate = Self.estimate(pool, model: Int(contender.model), route: route, request: request, hot: hot, modelNames: models.names)
            guard estimate.transferS.isFinite else {
                if explain { rejections.append(pathRejection(pool, request: request, ingress: ingress)) }
                return
            }
            if contender.planned {
                let holding = estimate.latencyMs / 1_000 + estimate.transferS + estimate.queueS + plannedRuntime(pool)
                guard let start = Self.plannedStart(request, model: Int(contender.model), on: pool, now: now, duration: holding, horizon: request.planHorizonS,
                                                    profile: profiles[pool], held: leaseTotals[pool], hot: hot, state: states[pool], modelNames: models.names) else {
                    if explain { rejections.append(screening.noStartWithinHorizon(pool, holdingS: holding)) }
                    return
                }
                estimate.startS = start - now
                estimate.completionS += estimate.startS
            }
            // With plans, the one-sided baselines choose among the pools that can start it
            // soonest, each by its own side; the compute side also sees how soon it ends.
            let later = planning ? estimate.startS * 1e6 : 0
            // Among equals, a job takes the pool it packs best: the least growth of the GPU
            // fragmentation the expected mix of requests sees, then the tightest fit; then the
            // pool id.
            let model = Int(contender.model)
            func packing(_ pool: Int, _ model: Int) -> Double? {
                fragmentationGrowth(pool, model: model, request: request).map { $0 + fit(pool, model: model, request: request) * 1e-3 }
            }
            var packs = true
            let value: Double
            switch (request.policy, request.objective) {
            case (.joint, .completion): value = estimate.completionS
            case (.joint, .cost): value = estimate.price
            case (.joint, .latency): value = estimate.latencyMs + estimate.processingLatencyMs
            case (.computeOnly, _):
                if planning {
                    value = estimate.startS + estimate.queueS + estimate.runtimeS
                } else {
                    value = packing(pool, model) ?? fit(pool, model: model, request: request)
                    packs = false
                }
            case (.networkOnly, _):
                value = later + estimate.latencyMs
                packs = false
            case (.random(let seed), _):
                value = later + draw(seed, states[pool].id)
                packs = false
            }
            // A packing score costs more than the rest of a decision: it is worked out only for
            // values that meet.
            var tie: Double?
            if packs {
                for index in top.indices where top[index].value == value {
                    if top[index].tie == nil { top[index].tie = packing(top[index].pool, top[index].model) ?? 0 }
                    if tie == nil { tie = packing(pool, model) ?? 0 }
                }
            }
            let id = states[pool].id
            let position = top.firstIndex { ($0.value, $0.tie ?? 0, states[$0.pool].id) > (value, tie ?? 0, id) } ?? top.count
            if position < keep {
                top.insert((value, tie, pool, model, Int(contender.target), estimate), at: position)
                if top.count > keep { top.removeLast() }
            }
        }

        if joint, request.objective == .completion, !explain {
            // Groups of pools in order of their bound; within a group, each pool on its own bound.
            let groups = completionIndex.groups(runtime: runtime)
            for (position, group) in groups.enumerated() {
                if outclassed(group.bound) {
                    pruned += groups[position...].reduce(0) { $0 + completionIndex.members[$1.group].count }
                    break
                }
                for pool in completionIndex.members[group.group] {
                    guard let contender = screen(Int(pool)) else { continue }
                    if outclassed(contender.bound) {
                        pruned += 1
                    } else {
                        evaluate(contender)
                    }
                }
            }
        } else {
            var contenders: [Contender] = []
            contenders.reserveCapacity(states.count)
            for pool in states.indices {
                if let contender = screen(pool) { contenders.append(contender) }
            }
            var ordered = ContenderHeap(contenders)
            while let contender = ordered.popMin() {
                if outclassed(contender.bound) {
                    pruned = ordered.count + 1
                    break
                }
                evaluate(contender)
            }
        }

        if top.isEmpty, !explain, request.explainRefusal {
            // Nothing fits: say why for every pool, which a fast pass does not collect.
            var explained = request
            explained.explain = true
            return try place(explained, now: now)
        }
        var chosen: [Candidate] = []
        for entry in top {
            let path = routes.path(&selection, entry.target, in: network)!
            chosen.append(Candidate(
                pool: states[entry.pool].id, node: topology.nodes[states[entry.pool].node].id,
                path: path.nodes.map { topology.nodes[$0].id }, slots: path.slots, estimate: entry.estimate
            ))
        }
        return Placement(
            winner: chosen.first, runnersUp: Array(chosen.dropFirst()),
            rejections: rejections.sorted { $0.pool < $1.pool }, pruned: pruned, version: version
        )
    }

    /// How much room a pool keeps after taking the request, as a fraction: GPUs first when the
    /// request asks for them, then cores. Lower is a tighter fit.
    private func fit(_ pool: Int, model: Int, request: PlacementRequest) -> Double {
        let total = max(states[pool].total.cpuCores, 1e-9)
        let cores = max(0, hot.cpu[pool] - request.cpuCores) / total
        guard request.gpuCount > 0, model >= 0 else { return cores }
        if request.isGPUShare {
            // The room a share leaves on the GPU it lands on: a shared GPU when one has room.
            let room = hot.shareRoom(pool, model)
            let left = room >= request.gpuShare - 1e-9 ? room - request.gpuShare : 1 - request.gpuShare + Double(hot.freeGPUs(pool, model))
            return left / Double(max(1, hot.totalGPUs(pool, model))) + cores / 1_000
        }
        let gpus = Double(hot.freeGPUs(pool, model)) - Double(request.gpuCount)
        return max(0, gpus) / Double(max(1, hot.totalGPUs(pool, model))) + cores / 1_000
    }

    /// A number in [0, 1) fixed by the seed and the pool, so random choices reproduce.
    private func draw(_ seed: UInt64, _ pool: String) -> Double {
        var generator = SeededGenerator(seed: pool.utf8.reduce(seed ^ 0xCBF2_9CE4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01B3 })
        return Double(generator.next() >> 11) / Double(1 << 53)
    }

    /// The most a request may ask for: past these no pool could exist, and the engine's counters
    /// must not overflow. Messages name the protocol's fields.
    public static let limits = (gpuCount: 65_536, cpuCores: 1e7, dataBytes: 1e18, bandwidthGbps: 1e6, latencyMs: 1e7, runtimeS: 3.2e8, gpuModels: 256)

    private func validate(_ request: PlacementRequest) throws(PlacementError) {
        let limits = Self.limits
        func check(_ value: Double, _ name: String, atMost limit: Double) throws(PlacementError) {
            guard value.isFinite, value >= 0, value <= limit else {
                throw .invalid("\(name) must be a number from 0 to \(compactNumber(limit)), not \(value)")
            }
        }
        try check(request.cpuCores, "cpu_cores", atMost: limits.cpuCores)
        try check(request.dataBytes, "data_bytes", atMost: limits.dataBytes)
        try check(request.minBandwidthGbps, "min_bandwidth_gbps", atMost: limits.bandwidthGbps)
        try check(request.runtimeS, "runtime_s", atMost: limits.runtimeS)
        if let budget = request.maxLatencyMs {
            guard budget.isFinite, budget > 0, budget <= limits.latencyMs else {
                throw .invalid("max_latency_ms must be above 0 and at most \(compactNumber(limits.latencyMs)), not \(budget)")
            }
        }
        guard request.gpuCount >= 0, request.gpuCount <= limits.gpuCount else {
            throw .invalid("gpu_count must be 0 to \(limits.gpuCount), not \(request.gpuCount)")
        }
        guard request.gpuModels.count <= limits.gpuModels else {
            throw .invalid("at most \(limits.gpuModels) gpu_models, not \(request.gpuModels.count)")
        }
        guard request.gpuCount > 0 || request.gpuModels.isEmpty else { throw .invalid("GPU models are named but no GPUs are asked") }
        guard request.gpuShare > 0, request.gpuShare <= 1 else { throw .invalid("gpu_share must be above 0 and at most 1, not \(request.gpuShare)") }
        guard request.gpuShare == 1 || request.gpuCount == 1 else { throw .invalid("a GPU share is part of one GPU: ask for 1 GPU, not \(request.gpuCount)") }
    }

    /// A static function of the fields it reads: called from inside `place`, a method of the
    /// engine would copy the whole engine for every pool estimated.
    private static func estimate(_ pool: Int, model: Int, route: Route, request: PlacementRequest, hot: HotPools, modelNames: [String]) -> Estimate {
        let gbps = request.minBandwidthGbps > 0 ? request.minBandwidthGbps : route.bottleneckGbps
        let transfer = route.hops == 0 || request.dataBytes == 0 ? 0 : (gbps > 0 ? request.dataBytes * 8 / (gbps * 1e9) : .infinity)
        let runtime = request.runtimeS / hot.speed[pool]
        let gpuPrice = model >= 0 ? hot.priceOfGPU(pool, model) : 0
        let price = runtime / 3_600 * (request.cpuCores * hot.cpuPrice[pool] + request.gpuUnits * gpuPrice)
            + request.dataBytes / 1e9 * route.transferPricePerGB
        return Estimate(
            latencyMs: route.latencyMs, bottleneckGbps: route.bottleneckGbps, pathCost: route.cost, hops: route.hops,
            transferS: transfer, queueS: hot.queue[pool], runtimeS: runtime,
            completionS: route.latencyMs / 1_000 + transfer + hot.queue[pool] + runtime,
            price: price, processingLatencyMs: hot.processing[pool],
            gpuModel: model >= 0 ? modelNames[model] : nil
        )
    }
}
