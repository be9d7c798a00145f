/// One decision's request, worked out once, against the pools as the decision found them: each
/// feasibility check a pool meets, with the reason it gives beside it (Nomad's feasibility
/// iterators and kube-scheduler's filters have the same shape).
struct Screening {
    let request: PlacementRequest
    let states: [PoolState]
    let hot: HotPools
    let modelNames: [String]
    /// The GPU models the request accepts, in the order they are tried.
    let allowedModels: [Int]
    let staleAfterS: Double
    let now: Double
    /// With a plan horizon a pool short of room now may still offer a later start.
    let planning: Bool
    private let need: Int32
    private let cpuAsked: Double
    private let staleBefore: Double

    init(_ request: PlacementRequest, states: [PoolState], hot: HotPools, models: GPUModels, staleAfterS: Double, now: Double) {
        self.request = request
        self.states = states
        self.hot = hot
        modelNames = models.names
        if request.gpuCount > 0 {
            let names = request.gpuModels.isEmpty ? models.names : request.gpuModels
            allowedModels = names.sorted().compactMap { models.existingID($0) }
        } else {
            allowedModels = []
        }
        self.staleAfterS = staleAfterS
        self.now = now
        planning = request.planHorizonS > 0
        need = Int32(request.gpuCount)
        cpuAsked = request.cpuCores - 1e-9
        staleBefore = now - staleAfterS
    }

    /// How a pool fares against the checks that need no path (the path checks, `unreachable`,
    /// `bandwidth` and `latencyBudget`, are the route search's).
    enum Verdict {
        case failed(Check)
        /// It passes; `fitsNow` says whether it has room now (always so without a plan),
        /// `model` is the first accepted GPU model with room (-1 when none is asked or free).
        case admitted(fitsNow: Bool, model: Int)
    }

    /// The pool checks in the order a pool meets them. Written out rather than looped over a
    /// list, because it runs for every pool of every decision.
    @inline(__always)
    func verdict(_ pool: Int) -> Verdict {
        guard passesExcluded(pool) else { return .failed(.excluded) }
        guard passesPoolDown(pool) else { return .failed(.poolDown) }
        guard passesStale(pool) else { return .failed(.stale) }
        guard passesLabels(pool) else { return .failed(.labels) }
        guard passesGPUModel(pool) else { return .failed(.gpuModel) }
        let room = roomNow(pool)
        guard room.fits || planning else { return .failed(.resources) }
        return .admitted(fitsNow: room.fits, model: room.model)
    }

    /// Why `pool` fails `check`, with the numbers.
    func rejection(_ pool: Int, _ check: Check) -> Rejection {
        let reason: String
        switch check {
        case .excluded: reason = excludedReason
        case .poolDown: reason = poolDownReason(pool)
        case .stale: reason = staleReason(pool)
        case .labels: reason = labelsReason(pool)
        case .gpuModel: reason = gpuModelReason(pool)
        case .resources: reason = resourcesReason(pool)
        case .unreachable, .bandwidth, .latencyBudget: reason = check.rawValue
        }
        return Rejection(pool: states[pool].id, check: check, reason: reason)
    }

    // MARK: excluded: the job failed or was refused here before, or is bound to another pool

    @inline(__always)
    private func passesExcluded(_ pool: Int) -> Bool {
        if !request.excludedPools.isEmpty, request.excludedPools.contains(states[pool].id) { return false }
        if let only = request.onlyPool, states[pool].id != only { return false }
        return true
    }

    private var excludedReason: String { "excluded: this job already failed or was refused here" }

    // MARK: poolDown: no live agent

    @inline(__always)
    private func passesPoolDown(_ pool: Int) -> Bool { hot.up[pool] }

    private func poolDownReason(_ pool: Int) -> String {
        let state = states[pool]
        if state.liveness == .declared { return "no agent has registered for this pool" }
        if let last = state.lastAdvertisement { return "down: last heard from \(number(now - last)) s ago" }
        return "down"
    }

    // MARK: stale: the last advertisement is too old to trust

    /// A pool that has not advertised yet (NaN) is judged by its liveness alone.
    @inline(__always)
    private func passesStale(_ pool: Int) -> Bool { !(hot.lastAdvertisement[pool] < staleBefore) }

    private func staleReason(_ pool: Int) -> String {
        "stale: last advertisement \(number(now - (states[pool].lastAdvertisement ?? now))) s ago, limit \(number(staleAfterS)) s"
    }

    // MARK: labels: every label constraint accepts the pool's labels

    @inline(__always)
    private func passesLabels(_ pool: Int) -> Bool {
        request.labels.isEmpty || request.labels.allSatisfy { $0.accepts(states[pool].labels) }
    }

    private func labelsReason(_ pool: Int) -> String {
        let labels = states[pool].labels
        let failed = request.labels.first { !$0.accepts(labels) }!
        return labels[failed.key].map { "label \(failed.key) is \($0); \(failed) asked" } ?? "no label \(failed.key); \(failed) asked"
    }

    // MARK: gpuModel: the pool has enough GPUs of an accepted model at all

    @inline(__always)
    private func passesGPUModel(_ pool: Int) -> Bool {
        need == 0 || allowedModels.contains { hot.totalGPUs(pool, $0) >= need }
    }

    private func gpuModelReason(_ pool: Int) -> String {
        let gpus = states[pool].total.gpus
        let wanted = request.gpuModels.isEmpty ? "GPUs" : request.gpuModels.sorted().joined(separator: " or ")
        let has = gpus.isEmpty ? "no GPUs" : gpus.sorted { $0.key < $1.key }.map { "\($0.value)×\($0.key)" }.joined(separator: ", ")
        return "not \(request.gpuCount) \(wanted) in the pool (it has \(has))"
    }

    // MARK: resources: room now after the leases (under a plan, room later is the planner's)

    /// Whether the pool has room for the request after its leases, and the first accepted GPU
    /// model with the GPUs (or the share) free (-1 when it asks for none or none has them).
    @inline(__always)
    private func roomNow(_ pool: Int) -> (fits: Bool, model: Int) {
        var fits = hot.cpu[pool] >= cpuAsked && hot.memory[pool] >= request.memoryBytes
        // Without a plan a pool short of cores or memory is out whatever its GPUs.
        guard need > 0, fits || planning else { return (fits, -1) }
        let model = modelWithRoom(pool)
        if model < 0 { fits = false }
        return (fits, model)
    }

    @inline(__always)
    private func modelWithRoom(_ pool: Int) -> Int {
        for model in allowedModels where hot.freeGPUs(pool, model) >= need || (request.isGPUShare && hot.shareRoom(pool, model) >= request.gpuShare - 1e-9) {
            return model
        }
        return -1
    }

    private func resourcesReason(_ pool: Int) -> String {
        if request.cpuCores > hot.cpu[pool] + 1e-9 {
            return "\(number(hot.cpu[pool])) of \(number(states[pool].total.cpuCores)) cores free after leases, \(number(request.cpuCores)) asked"
        }
        if request.memoryBytes > hot.memory[pool] {
            return "\(number(Double(hot.memory[pool]) / Double(1 << 30))) GiB of memory free after leases, \(number(Double(request.memoryBytes) / Double(1 << 30))) GiB asked"
        }
        let free = allowedModels.map { "\(hot.freeGPUs(pool, $0)) \(modelNames[$0])" }.joined(separator: ", ")
        if request.isGPUShare {
            let room = allowedModels.map { "\(number(hot.shareRoom(pool, $0))) of a shared \(modelNames[$0])" }.joined(separator: ", ")
            return "no GPU with \(number(request.gpuShare)) of it free: \(free.isEmpty ? "none" : free) whole after leases, at most \(room.isEmpty ? "none" : room)"
        }
        return "not enough GPUs free: \(free.isEmpty ? "none" : free) after leases, \(request.gpuCount) asked"
    }

    /// The resources check under a plan: no start within the horizon. A job larger than the
    /// whole pool is told what the pool lacks rather than when.
    func noStartWithinHorizon(_ pool: Int, holdingS: Double? = nil) -> Rejection {
        let total = states[pool].total
        if holdingS == nil, request.cpuCores > total.cpuCores + 1e-9 || request.memoryBytes > total.memoryBytes {
            return rejection(pool, .resources)
        }
        let what = holdingS.map { "\(number($0)) s" } ?? "it"
        return Rejection(pool: states[pool].id, check: .resources, reason: "no room for \(what) within the \(number(request.planHorizonS)) s plan horizon")
    }

    /// The latency-budget check: even the lowest-latency path is over the budget.
    func overBudget(_ pool: Int, lowestMs: Double) -> Rejection {
        let processing = hot.processing[pool]
        return Rejection(pool: states[pool].id, check: .latencyBudget, reason: "the lowest-latency path takes \(number(lowestMs)) ms + processing \(number(processing)) ms = \(number(lowestMs + processing)) ms, over the \(number(request.maxLatencyMs ?? 0)) ms budget")
    }
}

extension PlacementEngine {
    /// The unreachable and bandwidth checks: no usable path reaches the pool, either none at all
    /// or none with the bandwidth free on the way.
    mutating func pathRejection(_ pool: Int, request: PlacementRequest, ingress: Int) -> Rejection {
        let id = states[pool].id
        let node = states[pool].node
        let tree = routes.latencyTree(network, from: ingress)
        guard let path = network.path(in: tree, to: node),
              let narrowest = path.slots.min(by: { network.availableGbps[$0] < network.availableGbps[$1] }) else {
            return Rejection(pool: id, check: .unreachable, reason: "no path from \(request.ingress) to \(topology.nodes[node].id) over links that are up")
        }
        let asked = request.minBandwidthGbps
        let wanted = asked > 0 ? "\(number(asked)) Gbps asked" : "the data cannot move"
        return Rejection(pool: id, check: .bandwidth, reason: "no path with enough bandwidth: link \(linkName(narrowest)) has \(number(network.availableGbps[narrowest])) Gbps free, \(wanted)")
    }
}
