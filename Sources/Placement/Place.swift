import Routing
import Topology

extension PlacementEngine {
    /// Chooses a pool and a path for a request, reserving nothing: the feasibility checks in
    /// order (`Check`), then an estimate on each feasible pool's best path, then the best by the
    /// objective with ties broken by pool id. The best path is the quickest for the data within
    /// the latency budget (the lowest-latency one under the latency objective; under the cost
    /// objective transfer prices are added along the quickest path). A pool whose lower bound (compute time for
    /// completion, resource price for cost, processing latency for latency) cannot beat the
    /// current runners-up is not scored, unless the request asks for explanations.
    public mutating func place(_ request: PlacementRequest, now: Double) throws(PlacementError) -> Placement {
        guard let ingress = topology.node(request.ingress) else { throw .unknownIngress(request.ingress) }
        try validate(request)
        let explain = request.explain
        let keep = max(0, request.alternatives) + 1
        let need = Int32(request.gpuCount)
        let allowedModels = gpuModelOrder(for: request)
        let runtime = request.runtimeS

        // Pass 1: checks that need no path.
        var rejections: [Rejection] = []
        var candidates: [(index: Int, model: Int, bound: Double, target: Int)] = []
        // One route target per node, or per node and latency limit when there is a budget.
        var nodeTarget = [Int32](repeating: -1, count: network.graph.nodeCount)
        var limitedTarget: [RouteTarget: Int] = [:]
        var targets: [RouteTarget] = []
        records.withUnsafeBufferPointer { pools in
            for index in pools.indices {
                if let check = failedCheck(pools[index], request: request, now: now) {
                    if explain { rejections.append(rejection(pools[index], check, request: request, allowedModels: allowedModels, now: now)) }
                    continue
                }
                var model = -1
                if need > 0 {
                    model = allowedModels.first { pools[index].freeGPUs($0) >= need } ?? -1
                    if model < 0 {
                        if explain { rejections.append(rejection(pools[index], .resources, request: request, allowedModels: allowedModels, now: now)) }
                        continue
                    }
                }
                let state = pools[index].state
                let hours = runtime / state.speed / 3_600
                let bound: Double
                switch request.objective {
                case .completion: bound = state.queueWaitS + runtime / state.speed
                case .cost: bound = hours * (request.cpuCores * state.price.cpuCoreHour + Double(need) * (model >= 0 ? pools[index].gpuPrice[model] : 0))
                case .latency: bound = state.processingLatencyMs
                }
                let target: Int
                if let budget = request.maxLatencyMs {
                    let key = RouteTarget(node: state.node, latencyLimitMs: budget - state.processingLatencyMs)
                    if let known = limitedTarget[key] {
                        target = known
                    } else {
                        target = targets.count
                        limitedTarget[key] = target
                        targets.append(key)
                    }
                } else if nodeTarget[state.node] >= 0 {
                    target = Int(nodeTarget[state.node])
                } else {
                    target = targets.count
                    nodeTarget[state.node] = Int32(target)
                    targets.append(RouteTarget(node: state.node))
                }
                candidates.append((index, model, bound, target))
            }
        }

        // Pass 2: the best path to each candidate, then the estimate.
        // The latency objective wants the lowest-latency path whatever the data; the others the
        // quickest path for the data.
        let routedBytes = request.objective == .latency ? 0 : request.dataBytes
        let selection = routes.select(network, from: ingress, targets: targets, minimumGbps: request.minBandwidthGbps, dataBytes: routedBytes)
        var top: [(value: Double, index: Int, target: Int, estimate: Estimate)] = []
        var pruned = 0
        for candidate in candidates {
            if !explain, top.count == keep, candidate.bound > top[keep - 1].value {
                pruned += 1
                continue
            }
            let record = records[candidate.index]
            let route: Route
            switch selection.outcome(candidate.target) {
            case .found(let found):
                route = found
            case .overLimit(let lowest):
                if explain {
                    let processing = record.state.processingLatencyMs
                    rejections.append(Rejection(pool: record.state.id, check: .latencyBudget, reason: "the lowest-latency path takes \(number(lowest)) ms + processing \(number(processing)) ms = \(number(lowest + processing)) ms, over the \(number(request.maxLatencyMs ?? 0)) ms budget"))
                }
                continue
            case .none:
                if explain { rejections.append(pathRejection(record, request: request, ingress: ingress)) }
                continue
            }
            let latency = route.latencyMs + record.state.processingLatencyMs
            let estimate = self.estimate(record, model: candidate.model, route: route, request: request)
            guard estimate.transferS.isFinite else {
                if explain { rejections.append(pathRejection(record, request: request, ingress: ingress)) }
                continue
            }
            let value: Double
            switch request.objective {
            case .completion: value = estimate.completionS
            case .cost: value = estimate.price
            case .latency: value = latency
            }
            let entry = (value, candidate.index, candidate.target, estimate)
            let position = top.firstIndex { ($0.value, records[$0.index].state.id) > (value, record.state.id) } ?? top.count
            if position < keep {
                top.insert(entry, at: position)
                if top.count > keep { top.removeLast() }
            }
        }

        if top.isEmpty, !explain {
            // Nothing fits: say why for every pool, which a fast pass does not collect.
            var explained = request
            explained.explain = true
            return try place(explained, now: now)
        }
        let chosen = top.map { entry -> Candidate in
            let record = records[entry.index]
            let path = selection.path(entry.target)!
            return Candidate(
                pool: record.state.id, node: topology.nodes[record.state.node].id,
                path: path.nodes.map { topology.nodes[$0].id }, slots: path.slots, estimate: entry.estimate
            )
        }
        return Placement(
            winner: chosen.first, runnersUp: Array(chosen.dropFirst()),
            rejections: rejections.sorted { $0.pool < $1.pool }, pruned: pruned, version: version
        )
    }

    private func validate(_ request: PlacementRequest) throws(PlacementError) {
        func check(_ value: Double, _ name: String) throws(PlacementError) {
            guard value.isFinite, value >= 0 else { throw .invalid("\(name) must be a finite number at least 0, not \(value)") }
        }
        try check(request.cpuCores, "cpu cores")
        try check(request.dataBytes, "data size")
        try check(request.minBandwidthGbps, "minimum bandwidth")
        try check(request.runtimeS, "runtime")
        if let budget = request.maxLatencyMs {
            guard budget.isFinite, budget > 0 else { throw .invalid("the latency budget must be above 0 ms, not \(budget)") }
        }
        guard request.gpuCount >= 0 else { throw .invalid("the GPU count cannot be negative") }
        guard request.gpuCount > 0 || request.gpuModels.isEmpty else { throw .invalid("GPU models are named but no GPUs are asked") }
    }

    /// The allowed GPU models' ids in the order a pool's choice goes: by name.
    private func gpuModelOrder(for request: PlacementRequest) -> [Int] {
        guard request.gpuCount > 0 else { return [] }
        let names = request.gpuModels.isEmpty ? models.names : request.gpuModels
        return names.sorted().compactMap { models.existingID($0) }
    }

    /// The first check a pool fails before any path is looked at, or nil.
    private func failedCheck(_ record: PoolRecord, request: PlacementRequest, now: Double) -> Check? {
        let state = record.state
        guard state.liveness == .up else { return .poolDown }
        if let last = state.lastAdvertisement, now - last > staleAfterS { return .stale }
        if !request.labels.isEmpty, !request.labels.allSatisfy({ $0.accepts(state.labels) }) { return .labels }
        if request.gpuCount > 0 {
            let allowed = request.gpuModels.isEmpty ? Array(0..<models.count) : request.gpuModels.compactMap { models.existingID($0) }
            if !allowed.contains(where: { record.totalGPUs($0) >= Int32(request.gpuCount) }) { return .gpuModel }
        }
        if request.cpuCores > record.cpu + 1e-9 || request.memoryBytes > record.memory { return .resources }
        return nil
    }

    private func rejection(_ record: PoolRecord, _ check: Check, request: PlacementRequest, allowedModels: [Int], now: Double) -> Rejection {
        let state = record.state
        let reason: String
        switch check {
        case .poolDown:
            if state.liveness == .declared {
                reason = "no agent has registered for this pool"
            } else if let last = state.lastAdvertisement {
                reason = "down: last heard from \(number(now - last)) s ago"
            } else {
                reason = "down"
            }
        case .stale:
            reason = "stale: last advertisement \(number(now - (state.lastAdvertisement ?? now))) s ago, limit \(number(staleAfterS)) s"
        case .labels:
            let failed = request.labels.first { !$0.accepts(state.labels) }!
            reason = state.labels[failed.key].map { "label \(failed.key) is \($0); \(failed) asked" } ?? "no label \(failed.key); \(failed) asked"
        case .gpuModel:
            let wanted = request.gpuModels.isEmpty ? "GPUs" : request.gpuModels.sorted().joined(separator: " or ")
            let has = state.total.gpus.isEmpty ? "no GPUs" : state.total.gpus.sorted { $0.key < $1.key }.map { "\($0.value)×\($0.key)" }.joined(separator: ", ")
            reason = "not \(request.gpuCount) \(wanted) in the pool (it has \(has))"
        case .resources:
            if request.cpuCores > record.cpu + 1e-9 {
                reason = "\(number(record.cpu)) of \(number(state.total.cpuCores)) cores free after leases, \(number(request.cpuCores)) asked"
            } else if request.memoryBytes > record.memory {
                reason = "\(number(Double(record.memory) / Double(1 << 30))) GiB of memory free after leases, \(number(Double(request.memoryBytes) / Double(1 << 30))) GiB asked"
            } else {
                let free = allowedModels.map { "\(record.freeGPUs($0)) \(models.names[$0])" }.joined(separator: ", ")
                reason = "not enough GPUs free: \(free.isEmpty ? "none" : free) after leases, \(request.gpuCount) asked"
            }
        case .unreachable, .bandwidth, .latencyBudget:
            reason = check.rawValue
        }
        return Rejection(pool: state.id, check: check, reason: reason)
    }

    /// Why no usable path reaches a pool: nothing at all, or not enough bandwidth on the way.
    private mutating func pathRejection(_ record: PoolRecord, request: PlacementRequest, ingress: Int) -> Rejection {
        let node = record.state.node
        let tree = routes.latencyTree(network, from: ingress)
        guard let path = network.path(in: tree, to: node) else {
            return Rejection(pool: record.state.id, check: .unreachable, reason: "no path from \(request.ingress) to \(topology.nodes[node].id) over links that are up")
        }
        let asked = request.minBandwidthGbps
        guard let narrowest = path.slots.min(by: { network.availableGbps[$0] < network.availableGbps[$1] }) else {
            return Rejection(pool: record.state.id, check: .unreachable, reason: "no path")
        }
        let free = network.availableGbps[narrowest]
        let wanted = asked > 0 ? "\(number(asked)) Gbps asked" : "the data cannot move"
        return Rejection(pool: record.state.id, check: .bandwidth, reason: "no path with enough bandwidth: link \(linkName(narrowest)) has \(number(free)) Gbps free, \(wanted)")
    }

    private func estimate(_ record: PoolRecord, model: Int, route: Route, request: PlacementRequest) -> Estimate {
        let state = record.state
        let gbps = request.minBandwidthGbps > 0 ? request.minBandwidthGbps : route.bottleneckGbps
        let transfer = route.hops == 0 || request.dataBytes == 0 ? 0 : (gbps > 0 ? request.dataBytes * 8 / (gbps * 1e9) : .infinity)
        let runtime = request.runtimeS / state.speed
        let gpuPrice = model >= 0 ? record.gpuPrice[model] : 0
        let price = runtime / 3_600 * (request.cpuCores * state.price.cpuCoreHour + Double(request.gpuCount) * gpuPrice)
            + request.dataBytes / 1e9 * route.transferPricePerGB
        return Estimate(
            latencyMs: route.latencyMs, bottleneckGbps: route.bottleneckGbps, pathCost: route.cost, hops: route.hops,
            transferS: transfer, queueS: state.queueWaitS, runtimeS: runtime,
            completionS: route.latencyMs / 1_000 + transfer + state.queueWaitS + runtime,
            price: price, processingLatencyMs: state.processingLatencyMs,
            gpuModel: model >= 0 ? models.names[model] : nil
        )
    }
}
