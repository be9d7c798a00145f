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
