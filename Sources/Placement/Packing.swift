/// The GPU requests seen so far, by what they ask: the expected mix of future requests that a
/// pool's fragmentation is measured against (the idea of FGD, Weng et al., USENIX ATC '23).
struct WorkloadMix: Sendable {
    /// One kind of request: its GPU demand (a share's part, or a whole count), its cores, and
    /// how often it comes.
    struct Kind: Sendable {
        var gpus: Double
        var cores: Double
        var weight: Double
    }

    /// Requests are told apart by GPU demand and cores together, as FGD's typical pods are: a
    /// mean of the cores asked with a GPU count would call a pool short of cores for small and
    /// large requests alike.
    private struct Key: Hashable {
        var gpus: Double
        var cores: Double
    }

    private var counts: [Key: Double] = [:]
    /// How many of the most frequent kinds the measure counts: each costs a step of every
    /// packing score, and in the openb traces 64 cover nearly all requests.
    private static let kindsKept = 64
    private var seen = 0.0
    private var sinceRefresh = 0
    /// The most frequent kinds, weights summing to 1; refreshed as the mix moves, not per request.
    private(set) var kinds: [Kind] = []
    /// Cores the mix asks for each GPU it asks, over all its kinds.
    private(set) var coresPerGPU = 1.0

    var isEmpty: Bool { kinds.isEmpty }

    mutating func record(_ request: PlacementRequest) {
        guard request.gpuCount > 0 else { return }
        counts[Key(gpus: request.gpuUnits, cores: request.cpuCores), default: 0] += 1
        // Cores are any number a client sends: the rarest kinds go before the table grows without
        // bound in a long-running controller.
        if counts.count > 16 * Self.kindsKept {
            counts = Dictionary(uniqueKeysWithValues: ranked.prefix(4 * Self.kindsKept).map { ($0.key, $0.value) })
        }
        seen += 1
        sinceRefresh += 1
        if kinds.isEmpty || Double(sinceRefresh) >= max(16, seen / 20) { refresh() }
    }

    /// The kinds by how often they came, most frequent first (ties in a fixed order).
    private var ranked: [(key: Key, value: Double)] {
        counts.sorted { ($0.value, $1.key.gpus, $1.key.cores) > ($1.value, $0.key.gpus, $0.key.cores) }
    }

    private mutating func refresh() {
        sinceRefresh = 0
        let top = ranked.prefix(Self.kindsKept)
        let total = top.reduce(0) { $0 + $1.value }
        kinds = top.map { Kind(gpus: $0.key.gpus, cores: $0.key.cores, weight: $0.value / total) }
        let gpus = kinds.reduce(0) { $0 + $1.weight * $1.gpus }
        coresPerGPU = gpus > 0 ? max(1e-3, kinds.reduce(0) { $0 + $1.weight * $1.cores } / gpus) : 1
    }

    /// The GPU capacity of one model on a pool that requests of the mix could not use, weighted
    /// by how often each comes: free GPUs behind too few free cores, a whole-GPU request's
    /// partly shared GPUs, a share's GPUs with less room than it asks, and every free GPU when
    /// there are fewer than a request asks.
    func fragmentation(cores: Double, whole: Double, rooms: [Double]) -> Double {
        let shared = rooms.reduce(0, +)
        var expected = 0.0
        for kind in kinds {
            let unusable: Double
            if cores < kind.cores - 1e-9 {
                unusable = whole + shared
            } else if kind.gpus < 1 {
                unusable = rooms.reduce(0) { $1 < kind.gpus - 1e-9 ? $0 + $1 : $0 }
            } else if whole < kind.gpus - 1e-9 {
                unusable = whole + shared
            } else {
                unusable = shared
            }
            expected += kind.weight * unusable
        }
        return expected
    }

    /// How many more of a pool's free GPUs the mix could not use for want of cores once a
    /// request takes `cores` and `gpus` of them: at the mix's cores per GPU, free cores carry
    /// only so many GPUs, and a job that takes cores from a pool whose GPUs need them strands
    /// GPUs that no single kind's measure sees yet (a CPU-only job on a GPU machine, most of all).
    func strandedGrowth(freeCores: Double, freeGPUs: Double, cores: Double, gpus: Double) -> Double {
        let before = max(0, freeGPUs - freeCores / coresPerGPU)
        let after = max(0, (freeGPUs - gpus) - (freeCores - cores) / coresPerGPU)
        return after - before
    }

    /// Where a share of `amount` packs best on a machine, as FGD chooses a GPU within one: the
    /// shared GPU (by its place in `rooms`) or, nil, a whole GPU newly shared, whichever adds
    /// least to the expected fragmentation once it and its `cores` are taken; the fullest breaks
    /// a tie. Nil when no GPU has room.
    func bestShare(freeCores: Double, whole: Double, rooms: [Double], amount: Double, cores taken: Double) -> (position: Int?, growth: Double)? {
        let before = fragmentation(cores: freeCores, whole: whole, rooms: rooms)
        var best: (position: Int?, growth: Double, room: Double)?
        for position in rooms.indices where rooms[position] >= amount - 1e-9 {
            var after = rooms
            after[position] -= amount
            let growth = fragmentation(cores: freeCores - taken, whole: whole, rooms: after) - before
            if best.map({ growth < $0.growth - 1e-12 || (growth <= $0.growth + 1e-12 && rooms[position] < $0.room) }) ?? true {
                best = (position, growth, rooms[position])
            }
        }
        if whole >= 1 {
            let growth = fragmentation(cores: freeCores - taken, whole: whole - 1, rooms: rooms + [1 - amount]) - before
            if best.map({ growth < $0.growth - 1e-12 }) ?? true { best = (nil, growth, 1) }
        }
        return best.map { ($0.position, $0.growth) }
    }
}

extension PlacementEngine {
    /// How much placing the request on a pool adds to the pool's expected fragmentation (lower
    /// packs better): of the GPU model it would use, or for a job without GPUs, of every model
    /// the pool has, as the cores it takes may leave GPUs no request can use. Both count the
    /// GPUs its cores strand (`strandedGrowth`). Nil when no mix is known yet.
    func fragmentationGrowth(_ pool: Int, model: Int, request: PlacementRequest) -> Double? {
        guard !mix.isEmpty else { return nil }
        let cores = hot.cpu[pool]
        guard request.gpuCount > 0, model >= 0 else {
            var freeGPUs = 0.0
            let growth = profiles[pool].models.reduce(0) { sum, model in
                let (whole, rooms) = freeGPURoom(pool, model: model)
                freeGPUs += whole + rooms.reduce(0, +)
                return sum + mix.fragmentation(cores: cores - request.cpuCores, whole: whole, rooms: rooms) - mix.fragmentation(cores: cores, whole: whole, rooms: rooms)
            }
            return growth + mix.strandedGrowth(freeCores: cores, freeGPUs: freeGPUs, cores: request.cpuCores, gpus: 0)
        }
        let (whole, rooms) = freeGPURoom(pool, model: model)
        let stranded = mix.strandedGrowth(freeCores: cores, freeGPUs: whole + rooms.reduce(0, +), cores: request.cpuCores, gpus: request.gpuUnits)
        if request.isGPUShare {
            return mix.bestShare(freeCores: cores, whole: whole, rooms: rooms, amount: request.gpuShare, cores: request.cpuCores).map { $0.growth + stranded }
        }
        return mix.fragmentation(cores: cores - request.cpuCores, whole: max(0, whole - Double(request.gpuCount)), rooms: rooms)
            - mix.fragmentation(cores: cores, whole: whole, rooms: rooms) + stranded
    }

    /// A pool's free whole GPUs of a model after leases, and the room left on each of its shared
    /// ones, in the order of its list.
    func freeGPURoom(_ pool: Int, model: Int) -> (whole: Double, rooms: [Double]) {
        (Double(hot.freeGPUs(pool, model)), states[pool].sharedGPUs[models.names[model]]?.map(\.room) ?? [])
    }
}
