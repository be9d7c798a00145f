import HeapModule
import Topology

/// What a hold takes from a pool's profile: cores, memory, and GPUs of one model (a share
/// counts as its part of a GPU).
struct Demand: Sendable, Hashable {
    var cpu: Double
    var memory: Double
    /// The GPU model's place in the profile's models; -1 for none.
    var gpuSlot: Int
    var gpus: Double

    static let none = Demand(cpu: 0, memory: 0, gpuSlot: -1, gpus: 0)
}

/// A pool's capacity over time as plans see it: a step function from the pool's total, less what
/// every lease holds until its expected end and every planned job holds over its planned window.
/// It changes in place when a hold comes or goes, so a decision reads it without rebuilding it.
/// Each step keeps how it differs from the step before, so a hold changes two steps however
/// many lie between its start and its end.
struct CapacityProfile: Sendable {
    /// Where each step starts, ascending; the first step starts at minus infinity.
    private(set) var times: [Double] = [-.infinity]
    /// Per step, `width` values: the first step's levels (cores, memory bytes, then GPUs of each
    /// of `models`), then for each later step how much its levels exceed the step before's.
    private(set) var deltas: [Double]
    /// Per level, the difference below which two steps count as level: what holds that came
    /// and went leave behind in rounding.
    private let tolerance: [Double]
    /// The global GPU model ids the pool has, in slot order.
    let models: [Int]
    let total: Resources
    var width: Int { 2 + models.count }

    init(total: Resources, modelIDs: [String: Int]) {
        self.total = total
        let owned = total.gpus.keys.sorted().compactMap { modelIDs[$0] }
        models = owned
        var first = [total.cpuCores, Double(total.memoryBytes)]
        for name in total.gpus.keys.sorted() where modelIDs[name] != nil { first.append(Double(total.gpus[name] ?? 0)) }
        deltas = first
        tolerance = first.map { 1e-7 * max(1, abs($0)) }
    }

    /// The slot of a global GPU model id, or nil when the pool has none of it.
    func slot(of model: Int) -> Int? {
        models.firstIndex(of: model)
    }

    /// The step in force at `time`.
    func step(at time: Double) -> Int {
        var low = 0
        var high = times.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if times[middle] <= time { low = middle } else { high = middle - 1 }
        }
        return low
    }

    /// The levels of step `index`.
    func levels(at index: Int) -> [Double] {
        let w = width
        var levels = Array(deltas[0..<w])
        for step in stride(from: 1, through: index, by: 1) {
            for offset in 0..<w { levels[offset] += deltas[step * w + offset] }
        }
        return levels
    }

    /// Makes a step begin exactly at `time` and returns it.
    private mutating func split(at time: Double) -> Int {
        let index = step(at: time)
        if times[index] == time { return index }
        times.insert(time, at: index + 1)
        deltas.insert(contentsOf: repeatElement(0, count: width), at: (index + 1) * width)
        return index + 1
    }

    /// Takes a demand from `start` until `end` (`sign` 1), or gives it back (`sign` -1).
    mutating func change(_ demand: Demand, from start: Double, to end: Double, sign: Double) {
        guard end > start else { return }
        let first = split(at: start)
        let last = end.isFinite ? split(at: end) : times.count
        add(demand, times: -sign, at: first)
        if last < times.count { add(demand, times: sign, at: last) }
        if sign < 0 {
            if end.isFinite { mergeIfFlat(last) }
            mergeIfFlat(first)
        }
    }

    private mutating func add(_ demand: Demand, times factor: Double, at index: Int) {
        let base = index * width
        deltas[base] += factor * demand.cpu
        deltas[base + 1] += factor * demand.memory
        if demand.gpuSlot >= 0 { deltas[base + 2 + demand.gpuSlot] += factor * demand.gpus }
    }

    /// Drops a step whose levels equal the one before it; what rounding left in it goes to the
    /// next step, so the levels after it stay as they were.
    private mutating func mergeIfFlat(_ index: Int) {
        guard index > 0, index < times.count else { return }
        let w = width
        let base = index * w
        for offset in 0..<w where abs(deltas[base + offset]) > tolerance[offset] { return }
        if index + 1 < times.count {
            for offset in 0..<w { deltas[base + w + offset] += deltas[base + offset] }
        }
        times.remove(at: index)
        deltas.removeSubrange(base..<(base + w))
    }

    /// Forgets steps that ended before `time`: the past cannot be planned.
    mutating func forget(before time: Double) {
        let current = step(at: time)
        guard current > 16 else { return }
        // The step in force now becomes the first: its levels, not its difference.
        let now = levels(at: current)
        times.removeFirst(current)
        times[0] = -.infinity
        deltas.removeFirst(current * width)
        deltas.replaceSubrange(0..<width, with: now)
    }

    /// The earliest time from `from` at which the demand fits for `duration` seconds, with
    /// `offset` added to every level (what the pool's reports say is taken besides the holds);
    /// nil when it never does, or not before `latest`.
    func earliestStart(_ demand: Demand, from: Double, duration: Double, latest: Double, offset: [Double]) -> Double? {
        let w = width
        let cpu = demand.cpu - 1e-9
        let memory = demand.memory - 0.5
        let gpus = demand.gpus - 1e-9
        let slot = demand.gpuSlot
        let gpuOffset = 2 + max(0, slot)
        var first = step(at: from)
        // The three levels the demand needs at step `at`, summed from the first step without an
        // array (this runs for every pool a decision plans on); the search only moves forward.
        var at = 0
        var cpuLevel = deltas[0], memoryLevel = deltas[1], gpuLevel = slot >= 0 ? deltas[gpuOffset] : 0
        func fits(_ index: Int) -> Bool {
            while at < index {
                at += 1
                cpuLevel += deltas[at * w]
                memoryLevel += deltas[at * w + 1]
                if slot >= 0 { gpuLevel += deltas[at * w + gpuOffset] }
            }
            if cpuLevel + offset[0] < cpu { return false }
            if memoryLevel + offset[1] < memory { return false }
            if slot >= 0, gpuLevel + offset[gpuOffset] < gpus { return false }
            return true
        }
        var start = from
        while start <= latest {
            let end = start + duration
            var index = first
            var failed = -1
            while index < times.count, index == first || times[index] < end {
                if !fits(index) {
                    failed = index
                    break
                }
                index += 1
            }
            if failed < 0 { return start }
            var next = failed + 1
            while next < times.count, !fits(next) { next += 1 }
            guard next < times.count else { return nil }
            first = next
            start = times[next]
        }
        return nil
    }
}

/// A job planned on a pool: what it will hold there, and when.
public struct PlannedHold: Sendable, Hashable {
    public var id: UInt64
    public var pool: String
    public var start: Double
    public var end: Double
    public var resources: Resources
    /// The part of one GPU, for a job that shares one.
    public var gpuShare: Double
    public var gpuModel: String?
}

extension PlacementEngine {
    /// The profile demand of resources on a pool, with a shared GPU's part.
    func demand(_ resources: Resources, share: LeaseShare?, on profile: CapacityProfile) -> Demand {
        var demand = Demand(cpu: resources.cpuCores, memory: Double(resources.memoryBytes), gpuSlot: -1, gpus: 0)
        if let share, let id = models.existingID(share.model), let slot = profile.slot(of: id) {
            demand.gpuSlot = slot
            demand.gpus = share.amount
        } else if let (model, count) = resources.gpus.first, let id = models.existingID(model), let slot = profile.slot(of: id) {
            demand.gpuSlot = slot
            demand.gpus = Double(count)
        }
        return demand
    }

    /// How far a pool's reports fall below its profile now: capacity taken by work the leases
    /// do not account for (or not yet reported free). Never positive, so the plan stays cautious.
    /// A static function of the fields it reads: called from inside `place`, a method of the
    /// engine would copy the whole engine for every pool with a plan.
    static func reportOffset(_ pool: Int, profile: CapacityProfile, held: LeaseTotals, hot: HotPools, state: PoolState, modelNames: [String]) -> [Double] {
        var offset = [Double](repeating: 0, count: profile.width)
        offset[0] = min(0, hot.cpu[pool] - (profile.total.cpuCores - held.cpu))
        offset[1] = min(0, Double(hot.memory[pool]) - (Double(profile.total.memoryBytes) - held.memory))
        for (slot, model) in profile.models.enumerated() {
            let total = Double(hot.totalGPUs(pool, model))
            let room = state.sharedGPUs[modelNames[model]]?.reduce(0) { $0 + $1.room } ?? 0
            offset[2 + slot] = min(0, Double(hot.freeGPUs(pool, model)) + room - (total - (held.gpus[model] ?? 0)))
        }
        return offset
    }

    /// The earliest dispatch time from `now` at which a request fits on a pool for `duration`
    /// seconds without delaying any planned job; nil when not within `horizon`. A static
    /// function of the fields it reads, for the reason `reportOffset` gives.
    static func plannedStart(
        _ request: PlacementRequest, model: Int, on pool: Int, now: Double, duration: Double, horizon: Double,
        profile: CapacityProfile, held: LeaseTotals, hot: HotPools, state: PoolState, modelNames: [String]
    ) -> Double? {
        var demand = Demand(cpu: request.cpuCores, memory: Double(request.memoryBytes), gpuSlot: -1, gpus: 0)
        if model >= 0, let slot = profile.slot(of: model) {
            demand.gpuSlot = slot
            demand.gpus = request.gpuUnits
        }
        if request.gpuCount > 0, demand.gpuSlot < 0 { return nil }
        let offset = reportOffset(pool, profile: profile, held: held, hot: hot, state: state, modelNames: modelNames)
        return profile.earliestStart(demand, from: now, duration: duration, latest: now + horizon, offset: offset)
    }

    /// Plans a job on a candidate's pool from `start` until it is expected to end there; the
    /// candidate's pool must be known.
    public mutating func plan(_ candidate: Candidate, for request: PlacementRequest, start: Double) -> PlannedHold? {
        guard let index = poolIndex[candidate.pool] else { return nil }
        var resources = Resources(cpuCores: request.cpuCores, memoryBytes: request.memoryBytes)
        if let model = candidate.estimate.gpuModel, !request.isGPUShare { resources.gpus[model] = request.gpuCount }
        let hold = PlannedHold(
            id: nextPlanID, pool: candidate.pool, start: start, end: expectedEnd(of: candidate.estimate, now: start), resources: resources,
            gpuShare: request.isGPUShare ? request.gpuShare : 0, gpuModel: candidate.estimate.gpuModel
        )
        nextPlanID += 1
        takePlan(hold, on: index, sign: 1)
        plans[hold.id] = hold
        return hold
    }

    /// Puts a plan back as it was (one taken out to try another place).
    public mutating func restorePlan(_ hold: PlannedHold) {
        guard let index = poolIndex[hold.pool], plans[hold.id] == nil else { return }
        takePlan(hold, on: index, sign: 1)
        plans[hold.id] = hold
    }

    /// Removes a planned job's hold: it is dispatched, moved or gone.
    @discardableResult
    public mutating func unplan(_ id: UInt64) -> PlannedHold? {
        guard let hold = plans.removeValue(forKey: id) else { return nil }
        if let index = poolIndex[hold.pool] { takePlan(hold, on: index, sign: -1) }
        return hold
    }

    /// Planned jobs on a pool, by start.
    public func plans(on pool: String) -> [PlannedHold] {
        plans.values.filter { $0.pool == pool }.sorted { ($0.start, $0.id) < ($1.start, $1.id) }
    }

    private mutating func takePlan(_ hold: PlannedHold, on index: Int, sign: Double) {
        var demand = demand(hold.resources, share: nil, on: profiles[index])
        if hold.gpuShare > 0, let model = hold.gpuModel, let id = models.existingID(model), let slot = profiles[index].slot(of: id) {
            demand.gpuSlot = slot
            demand.gpus = hold.gpuShare
        }
        profiles[index].change(demand, from: hold.start, to: hold.end, sign: sign)
        plannedOnPool[index] += sign > 0 ? 1 : -1
    }

    // MARK: Leases in the profile

    /// When a lease's job is expected to end: its estimate from now, with the default runtime
    /// for a job that gave none. Summed in the order a job's course runs (latency, transfer, then
    /// queue and runtime), so a simulated end lands on exactly this time.
    func expectedEnd(of estimate: Estimate, now: Double) -> Double {
        let runtime = estimate.runtimeS > 0 ? estimate.runtimeS : defaultRuntimeS
        return now + estimate.latencyMs / 1_000 + estimate.transferS + (estimate.queueS + runtime)
    }

    /// Counts a new lease in its pool's profile until its expected end.
    mutating func profileTake(_ lease: Lease, on index: Int) {
        let demand = demand(lease.resources, share: lease.share, on: profiles[index])
        profiles[index].change(demand, from: -.infinity, to: lease.expectedEnd, sign: 1)
        leaseTotals[index].add(demand, models: profiles[index].models, sign: 1)
        expectedEnds.insert(ExpectedEnd(at: lease.expectedEnd, lease: lease.id))
    }

    /// Takes a lease out of its pool's profile.
    mutating func profileReturn(_ lease: Lease, on index: Int) {
        let demand = demand(lease.resources, share: lease.share, on: profiles[index])
        profiles[index].change(demand, from: -.infinity, to: lease.expectedEnd, sign: -1)
        leaseTotals[index].add(demand, models: profiles[index].models, sign: -1)
    }

    /// Rebuilds the expected ends from the leases that live once gone ones make up most of them.
    /// A released lease's entry would otherwise stay until its time came: a day's worth of
    /// submits for jobs that say they run a day.
    mutating func compactExpectedEnds() {
        guard expectedEnds.count > 2 * leases.count + 1_024 else { return }
        expectedEnds = Heap(leases.values.map { ExpectedEnd(at: $0.expectedEnd, lease: $0.id) })
    }

    /// Moves the expected end of every lease whose job has outrun it: the plan moves on, nothing
    /// is stopped. An overrunning job is expected to take another tenth of its span, at least
    /// `overrunStepS`.
    public mutating func extendOverruns(now: Double) {
        guard let first = expectedEnds.min, first.at < now else { return }
        while let due = expectedEnds.min, due.at < now {
            _ = expectedEnds.removeMin()
            guard let lease = leases[due.lease], lease.expectedEnd == due.at, let index = poolIndex[lease.pool] else { continue }
            profileReturn(lease, on: index)
            var extended = lease
            extended.expectedEnd = now + max(overrunStepS, 0.1 * (lease.expectedEnd - lease.heldAt))
            leases[due.lease] = extended
            profileTake(extended, on: index)
        }
        for index in profiles.indices { profiles[index].forget(before: now) }
    }

    /// Builds a pool's profile again from its total, its leases and its plans (its total changed).
    mutating func rebuildProfile(_ index: Int) {
        profiles[index] = CapacityProfile(total: states[index].total, modelIDs: modelIDs(states[index].total))
        leaseTotals[index] = LeaseTotals()
        for id in leasesOfPool[states[index].id] ?? [] {
            if let lease = leases[id] { profileTake(lease, on: index) }
        }
        plannedOnPool[index] = 0
        for hold in plans.values where hold.pool == states[index].id { takePlan(hold, on: index, sign: 1) }
    }

    func modelIDs(_ total: Resources) -> [String: Int] {
        var ids: [String: Int] = [:]
        for name in total.gpus.keys { ids[name] = models.existingID(name) }
        return ids
    }
}

/// When a lease's job is expected to end.
struct ExpectedEnd: Comparable, Sendable {
    var at: Double
    var lease: UInt64

    static func < (a: ExpectedEnd, b: ExpectedEnd) -> Bool { (a.at, a.lease) < (b.at, b.lease) }
}

/// What a pool's leases hold in all, in the profile's units.
struct LeaseTotals: Sendable {
    var cpu = 0.0
    var memory = 0.0
    /// By global GPU model id.
    var gpus: [Int: Double] = [:]

    mutating func add(_ demand: Demand, models: [Int], sign: Double) {
        cpu += sign * demand.cpu
        memory += sign * demand.memory
        if demand.gpuSlot >= 0 { gpus[models[demand.gpuSlot], default: 0] += sign * demand.gpus }
    }
}
