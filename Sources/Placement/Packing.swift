/// The GPU requests seen so far, by what they ask: the expected mix of future requests that a
/// pool's fragmentation is measured against (the idea of FGD, Weng et al., USENIX ATC '23).
struct WorkloadMix: Sendable {
    /// One kind of request: its GPU demand (a share's part, or a whole count), its mean cores,
    /// and how often it comes.
    struct Kind: Sendable {
        var gpus: Double
        var cores: Double
        var weight: Double
    }

    private var counts: [Double: (count: Double, cores: Double)] = [:]
    private var seen = 0.0
    private var sinceRefresh = 0
    /// The most frequent kinds, weights summing to 1; refreshed as the mix moves, not per request.
    private(set) var kinds: [Kind] = []

    var isEmpty: Bool { kinds.isEmpty }

    mutating func record(_ request: PlacementRequest) {
        guard request.gpuCount > 0 else { return }
        let key = request.gpuUnits
        let entry = counts[key] ?? (0, 0)
        counts[key] = (entry.count + 1, entry.cores + request.cpuCores)
        seen += 1
        sinceRefresh += 1
        if kinds.isEmpty || Double(sinceRefresh) >= max(16, seen / 20) { refresh() }
    }

    private mutating func refresh() {
        sinceRefresh = 0
        let top = counts.sorted { ($0.value.count, $1.key) > ($1.value.count, $0.key) }.prefix(16)
        let total = top.reduce(0) { $0 + $1.value.count }
        kinds = top.map { Kind(gpus: $0.key, cores: $0.value.cores / $0.value.count, weight: $0.value.count / total) }
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
}

extension PlacementEngine {
    /// How much placing the request on a pool adds to the pool's expected fragmentation (lower
    /// packs better): of the GPU model it would use, or for a job without GPUs, of every model
    /// the pool has, as the cores it takes may leave GPUs no request can use. Nil when no mix is
    /// known yet.
    func fragmentationGrowth(_ pool: Int, model: Int, request: PlacementRequest) -> Double? {
        guard !mix.isEmpty else { return nil }
        let cores = hot.cpu[pool]
        guard request.gpuCount > 0, model >= 0 else {
            let owned = profiles[pool].models
            return owned.reduce(0) { sum, model in
                let whole = Double(hot.freeGPUs(pool, model))
                let rooms = states[pool].sharedGPUs[models.names[model]]?.map(\.room) ?? []
                return sum + mix.fragmentation(cores: cores - request.cpuCores, whole: whole, rooms: rooms) - mix.fragmentation(cores: cores, whole: whole, rooms: rooms)
            }
        }
        var whole = Double(hot.freeGPUs(pool, model))
        var rooms = states[pool].sharedGPUs[models.names[model]]?.map(\.room) ?? []
        let before = mix.fragmentation(cores: cores, whole: whole, rooms: rooms)
        if request.isGPUShare {
            // As the hold does it: the fullest shared GPU with room, else a whole one shared.
            let fits = rooms.indices.filter { rooms[$0] >= request.gpuShare - 1e-9 }
            if let fullest = fits.min(by: { rooms[$0] < rooms[$1] }) {
                rooms[fullest] -= request.gpuShare
            } else {
                whole -= 1
                rooms.append(1 - request.gpuShare)
            }
        } else {
            whole -= Double(request.gpuCount)
        }
        return mix.fragmentation(cores: cores - request.cpuCores, whole: max(0, whole), rooms: rooms) - before
    }
}
