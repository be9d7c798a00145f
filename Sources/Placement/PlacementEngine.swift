import Foundation
import HeapModule
import Routing
import Topology

/// Small integer ids for GPU model names, so hot checks index arrays instead of hashing text.
struct GPUModels: Sendable {
    private(set) var names: [String] = []
    private var ids: [String: Int] = [:]

    mutating func id(_ name: String) -> Int {
        if let id = ids[name] { return id }
        ids[name] = names.count
        names.append(name)
        return names.count - 1
    }

    func existingID(_ name: String) -> Int? { ids[name] }
    var count: Int { names.count }
}

/// The pools' fields that every decision reads, in parallel arrays indexed by pool, so the
/// checks over thousands of pools touch plain numbers rather than copying pool descriptions.
struct HotPools: Sendable {
    var up: [Bool] = []
    /// When the last advertisement arrived; NaN when none did.
    var lastAdvertisement: [Double] = []
    var cpu: [Double] = []
    var memory: [UInt64] = []
    var node: [Int32] = []
    var queue: [Double] = []
    var speed: [Double] = []
    var processing: [Double] = []
    var cpuPrice: [Double] = []
    /// Per pool, `stride` entries indexed by GPU model id.
    var gpuFree: [Int32] = []
    var gpuTotal: [Int32] = []
    var gpuPrice: [Double] = []
    /// The most room on any shared GPU of the model, per pool and model.
    var gpuShareRoom: [Double] = []
    var stride = 4

    mutating func append() {
        up.append(false)
        lastAdvertisement.append(.nan)
        cpu.append(0)
        memory.append(0)
        node.append(0)
        queue.append(0)
        speed.append(1)
        processing.append(0)
        cpuPrice.append(0)
        gpuFree.append(contentsOf: repeatElement(0, count: stride))
        gpuTotal.append(contentsOf: repeatElement(0, count: stride))
        gpuPrice.append(contentsOf: repeatElement(0, count: stride))
        gpuShareRoom.append(contentsOf: repeatElement(0, count: stride))
    }

    /// Makes room for `models` GPU models per pool.
    mutating func widen(to models: Int) {
        guard models > stride else { return }
        let wider = max(models, stride * 2)
        func regrid<T>(_ values: [T], _ zero: T) -> [T] {
            var result = [T](repeating: zero, count: up.count * wider)
            for pool in 0..<up.count {
                for model in 0..<stride { result[pool * wider + model] = values[pool * stride + model] }
            }
            return result
        }
        gpuFree = regrid(gpuFree, 0)
        gpuTotal = regrid(gpuTotal, 0)
        gpuPrice = regrid(gpuPrice, 0)
        gpuShareRoom = regrid(gpuShareRoom, 0)
        stride = wider
    }

    mutating func set(_ index: Int, from state: PoolState, models: inout GPUModels) {
        let available = state.available
        for model in state.total.gpus.keys { _ = models.id(model) }
        for model in available.gpus.keys { _ = models.id(model) }
        for model in state.price.gpuHour.keys { _ = models.id(model) }
        widen(to: models.count)
        up[index] = state.liveness == .up
        lastAdvertisement[index] = state.lastAdvertisement ?? .nan
        cpu[index] = available.cpuCores
        memory[index] = available.memoryBytes
        node[index] = Int32(state.node)
        queue[index] = state.queueWaitS
        speed[index] = state.speed
        processing[index] = state.processingLatencyMs
        cpuPrice[index] = state.price.cpuCoreHour
        let base = index * stride
        for model in 0..<stride {
            gpuFree[base + model] = 0
            gpuTotal[base + model] = 0
            gpuPrice[base + model] = 0
            gpuShareRoom[base + model] = 0
        }
        for (model, count) in available.gpus { gpuFree[base + models.id(model)] = Int32(clamping: count) }
        for (model, count) in state.total.gpus { gpuTotal[base + models.id(model)] = Int32(clamping: count) }
        for (model, price) in state.price.gpuHour { gpuPrice[base + models.id(model)] = price }
        for (model, shared) in state.sharedGPUs { gpuShareRoom[base + models.id(model)] = shared.map(\.room).max() ?? 0 }
    }

    func freeGPUs(_ pool: Int, _ model: Int) -> Int32 { model < stride ? gpuFree[pool * stride + model] : 0 }
    func totalGPUs(_ pool: Int, _ model: Int) -> Int32 { model < stride ? gpuTotal[pool * stride + model] : 0 }
    func priceOfGPU(_ pool: Int, _ model: Int) -> Double { model < stride ? gpuPrice[pool * stride + model] : 0 }
    func shareRoom(_ pool: Int, _ model: Int) -> Double { model < stride ? gpuShareRoom[pool * stride + model] : 0 }
}

/// The pure placement core: live network and pool state, placement, leases, routing tables.
/// It takes values and the time as arguments and does no I/O; the controller, the simulator and
/// the benchmarks all drive it.
public struct PlacementEngine: Sendable {
    public private(set) var network: NetworkState
    var routes = RouteCache()
    var states: [PoolState] = []
    var hot = HotPools()
    var completionIndex = CompletionIndex()
    var poolIndex: [String: Int] = [:]
    var models = GPUModels()
    var leases: [UInt64: Lease] = [:]
    /// No lease expires before this, so a check for expired leases rarely walks them all.
    var nextLeaseExpiry = Double.infinity
    /// Lease ids per pool, so an advertisement looks only at its own pool's leases.
    var leasesOfPool: [String: Set<UInt64>] = [:]
    var nextLeaseID: UInt64 = 1
    /// A pool whose last advertisement is older than this is stale and takes no work.
    public var staleAfterS: Double = 15
    /// Per pool, its capacity over time as plans see it, and what its leases hold in all.
    var profiles: [CapacityProfile] = []
    var leaseTotals: [LeaseTotals] = []
    /// Per pool, how many planned jobs it has.
    var plannedOnPool: [Int] = []
    var plans: [UInt64: PlannedHold] = [:]
    var nextPlanID: UInt64 = 1
    /// Leases by expected end, so that finding the ones that overran takes only them; an entry
    /// whose lease has gone or moved its end is skipped.
    var expectedEnds = Heap<ExpectedEnd>()
    /// The GPU requests decided so far, for packing that keeps room for the ones to come.
    var mix = WorkloadMix()
    /// The runtime a plan assumes for a job that gives none.
    public var defaultRuntimeS: Double = 3_600
    /// The least an overrunning job's expected end moves at a time.
    public var overrunStepS: Double = 60
    /// Bumps on every change of network or pool state; routing tables carry it.
    public private(set) var version: UInt64 = 1

    /// An engine over a topology, with its declared pools `declaredLiveness` (`.up` to place on
    /// them without agents, as the offline commands and the simulator do).
    public init(topology: Topology, declaredLiveness: PoolLiveness = .declared) {
        network = NetworkState(topology)
        for pool in topology.pools {
            let state = PoolState(
                id: pool.id, node: pool.node, total: pool.capacity, labels: topology.effectiveLabels(of: pool),
                price: pool.price, speed: pool.speed, queueWaitS: pool.queueWaitS,
                processingLatencyMs: pool.processingLatencyMs, liveness: declaredLiveness
            )
            appendPool(state)
        }
    }

    private mutating func appendPool(_ state: PoolState) {
        poolIndex[state.id] = states.count
        states.append(state)
        hot.append()
        profiles.append(CapacityProfile(total: Resources(), modelIDs: [:]))
        leaseTotals.append(LeaseTotals())
        plannedOnPool.append(0)
        refresh(states.count - 1)
        rebuildProfile(states.count - 1)
    }

    /// Brings the fast fields of a pool in line with its state.
    mutating func refresh(_ index: Int) {
        hot.set(index, from: states[index], models: &models)
        completionIndex.place(index, queue: hot.queue[index], speed: hot.speed[index])
    }

    public var topology: Topology { network.topology }
    public var pools: [PoolState] { states }
    public func pool(_ id: String) -> PoolState? { poolIndex[id].map { states[$0] } }
    /// Route searches run so far (each a Dijkstra); coalescing keeps this low.
    public var routeSearches: Int { routes.searches }
    public var activeLeases: [Lease] { leases.values.sorted { $0.id < $1.id } }
    public func lease(_ id: UInt64) -> Lease? { leases[id] }

    // MARK: Network changes

    /// Marks a link up or down by index.
    /// Moves the version above `past`: an engine built anew (a reload) goes on from the old one's
    /// version, so that whoever follows versions sees one more change, not a step back.
    public mutating func advanceVersion(past: UInt64) {
        version = max(version, past) &+ 1
    }

    public mutating func setLink(_ link: Int, up: Bool) {
        if network.setLink(link, up: up) { version &+= 1 }
    }

    /// Sets a link's capacity by index.
    public mutating func setLinkCapacity(_ link: Int, gbps: Double) {
        if network.setCapacity(link, gbps: gbps) { version &+= 1 }
    }

    public mutating func setMeasuredLatency(_ link: Int, ms: Double?) {
        network.setMeasuredLatency(link, ms: ms)
        version &+= 1
    }

    /// Brings the lowest-latency searches from these ingresses up to date now, rather than on
    /// their next use: what a controller does once per tick for its active ingresses, so that a
    /// burst of changes costs one recomputation each.
    public mutating func refreshRoutes(from ingresses: [Int]) {
        for ingress in ingresses { _ = routes.latencyTree(network, from: ingress) }
    }

    // MARK: Pool changes

    /// Adds a pool, or replaces the description of one with the same id (keeping its leases).
    public mutating func upsertPool(_ state: PoolState) {
        if let index = poolIndex[state.id] {
            let reserved = states[index].reserved
            let shared = states[index].sharedGPUs
            states[index] = state
            states[index].reserved = reserved
            states[index].sharedGPUs = shared
            refresh(index)
            if profiles[index].total != state.total { rebuildProfile(index) }
        } else {
            appendPool(state)
        }
        version &+= 1
    }

    public mutating func setLiveness(_ pool: String, _ liveness: PoolLiveness, now: Double) {
        guard let index = poolIndex[pool], states[index].liveness != liveness else { return }
        states[index].liveness = liveness
        if liveness == .up, states[index].lastAdvertisement == nil { states[index].lastAdvertisement = now }
        refresh(index)
        version &+= 1
    }

    /// The outcome of applying an advertisement.
    public enum ReportOutcome: Sendable, Hashable {
        case applied
        /// Its sequence is not above the last applied one; nothing changed.
        case stale(last: UInt64)
        case unknownPool
    }

    /// Applies a pool's advertisement: free capacity and metrics, and marks leases whose
    /// dispatch it reflects, so their resources stop counting as reserved here.
    public mutating func apply(_ report: PoolReport, from pool: String, now: Double) -> ReportOutcome {
        guard let index = poolIndex[pool] else { return .unknownPool }
        guard report.sequence > states[index].advertisementSequence else { return .stale(last: states[index].advertisementSequence) }
        // Changed in place: copying the pool's description out and back costs more than the update.
        states[index].advertisementSequence = report.sequence
        states[index].free = report.free
        if let total = report.total, total != states[index].total {
            states[index].total = total
            refresh(index)
            rebuildProfile(index)
        }
        states[index].queueWaitS = report.queueWaitS
        states[index].processingLatencyMs = report.processingLatencyMs
        if let speed = report.speed, speed > 0 { states[index].speed = speed }
        if let price = report.price { states[index].price = price }
        states[index].lastAdvertisement = now
        let applied = max(states[index].dispatchSequenceApplied, report.dispatchSequenceApplied)
        states[index].dispatchSequenceApplied = applied
        for id in leasesOfPool[pool] ?? [] {
            guard let lease = leases[id], !lease.reflected, let sequence = lease.dispatchSequence, sequence <= applied else { continue }
            leases[id]?.reflected = true
            states[index].reserved = subtract(lease.resources, from: states[index].reserved)
        }
        for (model, shared) in states[index].sharedGPUs {
            for (position, gpu) in shared.enumerated() where !gpu.reflected && (gpu.openedBy.map { $0 <= applied } ?? false) {
                states[index].sharedGPUs[model]?[position].reflected = true
                states[index].reserved = subtract(Resources(gpus: [model: 1]), from: states[index].reserved)
            }
        }
        refresh(index)
        version &+= 1
        return .applied
    }

    /// Resets a pool's advertisement sequence, as a new agent session starts one afresh.
    public mutating func resetSequence(_ pool: String) {
        guard let index = poolIndex[pool] else { return }
        states[index].advertisementSequence = 0
    }

    // MARK: Leases

    /// Takes a placement's pool resources and its path's bandwidth, all or nothing. Fails
    /// cleanly, taking nothing, when something changed since the placement.
    /// With `sharedGPU`, a job that shares a GPU takes its part of that one (as after a reload);
    /// otherwise the shared GPU where it packs best, or a newly shared one.
    public mutating func hold(_ candidate: Candidate, for request: PlacementRequest, now: Double, ttl: Double, sharedGPU: Int? = nil) -> Result<Lease, HoldFailure> {
        guard let index = poolIndex[candidate.pool] else { return .failure(.unknownPool(candidate.pool)) }
        guard states[index].liveness == .up else {
            return .failure(.poolUnavailable("pool \(candidate.pool) is \(states[index].liveness.rawValue)"))
        }
        var resources = Resources(cpuCores: request.cpuCores, memoryBytes: request.memoryBytes)
        var share: (LeaseShare, opens: Bool)?
        if request.gpuCount > 0 {
            guard let model = candidate.estimate.gpuModel else { return .failure(.resources("no GPU model chosen")) }
            if request.isGPUShare {
                guard let chosen = shareTarget(model, amount: request.gpuShare, cores: request.cpuCores, in: index, preferring: sharedGPU) else {
                    return .failure(.resources("pool \(candidate.pool) changed: no \(model) has \(number(request.gpuShare)) of a GPU free"))
                }
                share = chosen
            } else {
                resources.gpus[model] = request.gpuCount
            }
        }
        if let shortage = shortage(of: resources, in: index) {
            return .failure(.resources("pool \(candidate.pool) changed: \(shortage)"))
        }
        let bandwidth = request.minBandwidthGbps
        if bandwidth > 0, !network.canHold(bandwidth, on: candidate.slots) {
            let narrowest = candidate.slots.min { network.availableGbps[$0] < network.availableGbps[$1] }!
            return .failure(.bandwidth("link \(linkName(narrowest)) now has \(number(network.availableGbps[narrowest])) Gbps free, \(number(bandwidth)) Gbps asked"))
        }
        network.hold(bandwidth, on: candidate.slots)
        states[index].reserved = add(resources, to: states[index].reserved)
        if let (taken, opens) = share { takeShare(taken, opens: opens, in: index) }
        refresh(index)
        let lease = Lease(
            id: nextLeaseID, pool: candidate.pool, path: candidate.path, slots: candidate.slots,
            bandwidthGbps: bandwidth, resources: resources, expiresAt: now + ttl, dispatchSequence: nil, reflected: false,
            share: share?.0, heldAt: now, expectedEnd: expectedEnd(of: candidate.estimate, now: now)
        )
        nextLeaseID += 1
        leases[lease.id] = lease
        profileTake(lease, on: index)
        nextLeaseExpiry = min(nextLeaseExpiry, lease.expiresAt)
        leasesOfPool[lease.pool, default: []].insert(lease.id)
        version &+= 1
        return .success(lease)
    }

    /// Holds a running job's resources on its pool again, without a path or bandwidth: its input
    /// has arrived, so only the pool matters.
    public mutating func holdRunning(_ request: PlacementRequest, on pool: String, estimate: Estimate, path: [String], now: Double, ttl: Double, sharedGPU: Int? = nil) -> Result<Lease, HoldFailure> {
        var resident = request
        resident.minBandwidthGbps = 0
        let node = poolIndex[pool].map { topology.nodes[states[$0].node].id } ?? ""
        return hold(Candidate(pool: pool, node: node, path: path, slots: [], estimate: estimate), for: resident, now: now, ttl: ttl, sharedGPU: sharedGPU)
    }

    /// Records the dispatch that carries a lease, so an advertisement can later reflect it.
    /// A dispatch the pool's last advertisement already reflects (a job held again after a
    /// reload) stops counting as reserved at once.
    public mutating func markDispatched(_ lease: UInt64, sequence: UInt64) {
        leases[lease]?.dispatchSequence = sequence
        if let held = leases[lease], !held.reflected, let index = poolIndex[held.pool], states[index].dispatchSequenceApplied >= sequence {
            leases[lease]?.reflected = true
            states[index].reserved = subtract(held.resources, from: states[index].reserved)
            refresh(index)
        }
        guard let held = leases[lease], let share = held.share, let index = poolIndex[held.pool],
              let position = states[index].sharedGPUs[share.model]?.firstIndex(where: { $0.index == share.gpu }),
              states[index].sharedGPUs[share.model]?[position].openedBy == nil else { return }
        states[index].sharedGPUs[share.model]?[position].openedBy = sequence
    }

    /// Frees a lease's bandwidth and keeps its resources: the job's input has arrived.
    public mutating func releaseBandwidth(_ id: UInt64) {
        guard let lease = leases[id], lease.bandwidthGbps > 0 else { return }
        network.release(lease.bandwidthGbps, on: lease.slots)
        leases[id]?.bandwidthGbps = 0
        version &+= 1
    }

    /// Frees a lease's bandwidth, and its resources if the pool does not yet reflect them.
    @discardableResult
    public mutating func release(_ id: UInt64) -> Lease? {
        guard let lease = leases.removeValue(forKey: id) else { return nil }
        leasesOfPool[lease.pool]?.remove(id)
        network.release(lease.bandwidthGbps, on: lease.slots)
        if let index = poolIndex[lease.pool] {
            profileReturn(lease, on: index)
            if !lease.reflected { states[index].reserved = subtract(lease.resources, from: states[index].reserved) }
            if let share = lease.share { returnShare(share, in: index) }
            refresh(index)
        }
        compactExpectedEnds()
        version &+= 1
        return lease
    }

    /// Releases every lease whose expiry has passed and returns them.
    /// What every lease on `pool` holds, and the GPU fractions its shared-GPU leases hold.
    public func held(on pool: String) -> (resources: Resources, gpuShare: Double) {
        var total = Resources()
        var share = 0.0
        for id in leasesOfPool[pool] ?? [] {
            guard let lease = leases[id] else { continue }
            total.cpuCores += lease.resources.cpuCores
            total.memoryBytes += lease.resources.memoryBytes
            total.gpus.merge(lease.resources.gpus, uniquingKeysWith: +)
            share += lease.share?.amount ?? 0
        }
        return (total, share)
    }

    /// Whether a lease has reached its time limit.
    public func leaseDue(now: Double) -> Bool {
        nextLeaseExpiry <= now
    }

    /// Frees the leases past their time limit and returns them, except those in `renewing`,
    /// which run `ttl` seconds more from now.
    public mutating func expireLeases(now: Double, renewing: Set<UInt64> = [], ttl: Double = 0) -> [Lease] {
        guard nextLeaseExpiry <= now else { return [] }
        let due = leases.values.filter { $0.expiresAt <= now }.sorted { $0.id < $1.id }
        var expired: [Lease] = []
        for lease in due {
            if renewing.contains(lease.id), ttl > 0 {
                leases[lease.id]?.expiresAt = now + ttl
            } else {
                release(lease.id)
                expired.append(lease)
            }
        }
        nextLeaseExpiry = leases.values.lazy.map(\.expiresAt).min() ?? .infinity
        return expired
    }

    // MARK: Helpers

    func linkName(_ slot: Int) -> String {
        let link = topology.links[slot >> 1]
        let (from, to) = slot & 1 == 0 ? (link.from, link.to) : (link.to, link.from)
        return "\(topology.nodes[from].id)–\(topology.nodes[to].id)"
    }

    /// Where a share of a GPU of `model` goes: the named shared GPU; else, once requests have
    /// been seen, where it packs best (`WorkloadMix.bestShare`), before that the fullest one with room;
    /// else a free whole GPU shared from now on (`opens`). Nil when none has room.
    func shareTarget(_ model: String, amount: Double, cores: Double, in pool: Int, preferring wanted: Int?) -> (LeaseShare, opens: Bool)? {
        let shared = states[pool].sharedGPUs[model] ?? []
        let wholeFree = models.existingID(model).map { hot.freeGPUs(pool, $0) } ?? 0
        if let wanted {
            if let gpu = shared.first(where: { $0.index == wanted }) {
                return gpu.room >= amount - 1e-9 ? (LeaseShare(model: model, gpu: wanted, amount: amount), false) : nil
            }
            return wholeFree >= 1 ? (LeaseShare(model: model, gpu: wanted, amount: amount), true) : nil
        }
        if !mix.isEmpty, let id = models.existingID(model) {
            let (whole, rooms) = freeGPURoom(pool, model: id)
            guard let packed = mix.bestShare(freeCores: hot.cpu[pool], whole: whole, rooms: rooms, amount: amount, cores: cores) else { return nil }
            if let position = packed.position { return (LeaseShare(model: model, gpu: shared[position].index, amount: amount), false) }
        } else if let fullest = shared.filter({ $0.room >= amount - 1e-9 }).min(by: { ($0.room, $0.index) < ($1.room, $1.index) }) {
            return (LeaseShare(model: model, gpu: fullest.index, amount: amount), false)
        }
        guard wholeFree >= 1 else { return nil }
        let taken = Set(shared.map(\.index))
        let next = (0...shared.count).first { !taken.contains($0) }!
        return (LeaseShare(model: model, gpu: next, amount: amount), true)
    }

    /// Puts a share on its GPU; a newly shared GPU is held whole until the pool reports it taken.
    mutating func takeShare(_ share: LeaseShare, opens: Bool, in pool: Int) {
        if opens {
            states[pool].sharedGPUs[share.model, default: []].append(SharedGPU(index: share.gpu, used: share.amount, openedBy: nil, reflected: false))
            states[pool].reserved = add(Resources(gpus: [share.model: 1]), to: states[pool].reserved)
        } else if let position = states[pool].sharedGPUs[share.model]?.firstIndex(where: { $0.index == share.gpu }) {
            states[pool].sharedGPUs[share.model]?[position].used += share.amount
        }
    }

    /// Takes a share off its GPU; a GPU left empty is whole again.
    mutating func returnShare(_ share: LeaseShare, in pool: Int) {
        guard let position = states[pool].sharedGPUs[share.model]?.firstIndex(where: { $0.index == share.gpu }),
              var gpu = states[pool].sharedGPUs[share.model]?[position] else { return }
        gpu.used -= share.amount
        if gpu.used > 1e-9 {
            states[pool].sharedGPUs[share.model]?[position] = gpu
            return
        }
        states[pool].sharedGPUs[share.model]?.remove(at: position)
        if states[pool].sharedGPUs[share.model]?.isEmpty == true { states[pool].sharedGPUs[share.model] = nil }
        // Until the pool reports the GPU taken it is reserved here; after that the pool frees it.
        if !gpu.reflected { states[pool].reserved = subtract(Resources(gpus: [share.model: 1]), from: states[pool].reserved) }
    }

    func shortage(of resources: Resources, in pool: Int) -> String? {
        if resources.cpuCores > hot.cpu[pool] + 1e-9 {
            return "\(number(hot.cpu[pool])) cores free, \(number(resources.cpuCores)) asked"
        }
        if resources.memoryBytes > hot.memory[pool] {
            return "\(number(Double(hot.memory[pool]) / Double(1 << 30))) GiB memory free, \(number(Double(resources.memoryBytes) / Double(1 << 30))) GiB asked"
        }
        for (model, count) in resources.gpus {
            let free = models.existingID(model).map { hot.freeGPUs(pool, $0) } ?? 0
            if Int(free) < count { return "\(free) \(model) free, \(count) asked" }
        }
        return nil
    }
}

func add(_ a: Resources, to b: Resources) -> Resources {
    var sum = b
    sum.cpuCores += a.cpuCores
    sum.memoryBytes += a.memoryBytes
    sum.gpus.merge(a.gpus, uniquingKeysWith: +)
    return sum
}

func subtract(_ a: Resources, from b: Resources) -> Resources {
    var difference = b
    difference.cpuCores = max(0, b.cpuCores - a.cpuCores)
    difference.memoryBytes = b.memoryBytes > a.memoryBytes ? b.memoryBytes - a.memoryBytes : 0
    for (model, count) in a.gpus {
        let left = (b.gpus[model] ?? 0) - count
        difference.gpus[model] = left > 0 ? left : nil
    }
    return difference
}

/// A number for reasons: up to two decimals.
func number(_ value: Double) -> String { compactNumber(value, decimals: 2) }
