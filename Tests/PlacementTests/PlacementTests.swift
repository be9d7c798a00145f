import Placement
import Routing
import Testing
import Topology

/// A line of sites behind one ingress, each with a pool: (network latency, processing latency).
func starTopology(_ sites: [(networkMs: Double, computeMs: Double)]) -> Topology {
    let nodes = [Topology.Node(id: "user")] + sites.indices.map { Topology.Node(id: "site\($0 + 1)") }
    let links = sites.enumerated().map { index, site in
        Topology.Link(id: "l\(index)", from: 0, to: index + 1, latencyMs: site.networkMs, capacityGbps: 10)
    }
    let pools = sites.enumerated().map { index, site in
        Topology.Pool(id: "site\(index + 1)", node: index + 1, capacity: Resources(cpuCores: 16, memoryBytes: 64 << 30), processingLatencyMs: site.computeMs)
    }
    return Topology(name: "star", nodes: nodes, links: links, pools: pools)
}

@Suite("Placement")
struct PlacementTests {
    /// RFC 10054's cloud VR case: a 20 ms motion-to-photon budget of which 9.4 ms go elsewhere,
    /// and three sites with (compute, network) delays of (4, 9), (10, 4) and (5, 5) ms.
    @Test func jointSelectionMeetsTheCloudVRBudgetWhereOneSidedChoicesMiss() throws {
        let sites: [(networkMs: Double, computeMs: Double)] = [(9, 4), (4, 10), (5, 5)]
        var engine = PlacementEngine(topology: starTopology(sites), declaredLiveness: .up)
        let budget = 20 - 9.4
        let placement = try engine.place(PlacementRequest(ingress: "user", cpuCores: 1, maxLatencyMs: budget, objective: .latency), now: 0)
        #expect(placement.winner?.pool == "site3")
        #expect(abs((placement.winner.map { $0.estimate.latencyMs + $0.estimate.processingLatencyMs } ?? 0) + 9.4 - 19.4) < 1e-9)
        #expect(Set(placement.rejections.map(\.pool)) == ["site1", "site2"])
        #expect(placement.rejections.allSatisfy { $0.check == .latencyBudget })

        // What one-sided policies would pick, and that both miss the budget.
        let networkOnly = sites.indices.min { sites[$0].networkMs < sites[$1].networkMs }!
        let computeOnly = sites.indices.min { sites[$0].computeMs < sites[$1].computeMs }!
        #expect(networkOnly == 1 && computeOnly == 0)
        for site in [networkOnly, computeOnly] {
            #expect(sites[site].networkMs + sites[site].computeMs + 9.4 > 20)
        }
        #expect(placement.rejections.first { $0.pool == "site2" }?.reason == "the lowest-latency path takes 4 ms + processing 10 ms = 14 ms, over the 10.6 ms budget")
    }

    @Test(arguments: 0..<120)
    func theWinnerIsTheBestOfAllPoolsAndPaths(seed: Int) throws {
        var rng = SeededGenerator(seed: UInt64(50_000 + seed))
        let topology = randomTopology(nodes: Int.random(in: 3...6, using: &rng), links: Int.random(in: 4...10, using: &rng), pools: Int.random(in: 1...6, using: &rng), using: &rng)
        var engine = PlacementEngine(topology: topology, declaredLiveness: .up)
        let request = PlacementRequest(
            ingress: topology.nodes[Int.random(in: 0..<topology.nodes.count, using: &rng)].id,
            cpuCores: Double(Int.random(in: 1...48, using: &rng)),
            memoryBytes: UInt64(Int.random(in: 0...128, using: &rng)) << 30,
            dataBytes: [0, 1e9, 1e11].randomElement(using: &rng)!,
            minBandwidthGbps: [0, 0, 2.5].randomElement(using: &rng)!,
            maxLatencyMs: [nil, 15, 30].randomElement(using: &rng)!,
            runtimeS: Double(Int.random(in: 0...600, using: &rng)),
            objective: [.completion, .cost, .latency].randomElement(using: &rng)!,
            alternatives: 2,
            explain: Bool.random(using: &rng)
        )
        let placement = try engine.place(request, now: 0)

        // Exhaustive: every pool that fits, over every simple path that carries the request.
        let state = engine.network
        let ingress = topology.node(request.ingress)!
        var best: (value: Double, pool: String)?
        for pool in topology.pools where pool.capacity.cpuCores >= request.cpuCores && pool.capacity.memoryBytes >= request.memoryBytes {
            for slots in simplePaths(state, from: ingress, to: pool.node) {
                let (latency, bottleneck) = metrics(state, slots)
                if request.minBandwidthGbps > 0, bottleneck < request.minBandwidthGbps { continue }
                if let budget = request.maxLatencyMs, latency + pool.processingLatencyMs > budget { continue }
                let gbps = request.minBandwidthGbps > 0 ? request.minBandwidthGbps : bottleneck
                let transfer = slots.isEmpty || request.dataBytes == 0 ? 0 : request.dataBytes * 8 / (gbps * 1e9)
                let runtime = request.runtimeS / pool.speed
                let value: Double
                switch request.objective {
                case .completion: value = latency / 1_000 + transfer + pool.queueWaitS + runtime
                case .cost: value = runtime / 3_600 * request.cpuCores * pool.price.cpuCoreHour
                case .latency: value = latency + pool.processingLatencyMs
                }
                if best == nil || value < best!.value - 1e-9 * max(1, abs(value)) || (close(value, best!.value) && pool.id < best!.pool) {
                    best = (value, pool.id)
                }
            }
        }
        guard let best else {
            #expect(placement.winner == nil, "seed \(seed): nothing fits, yet \(placement.winner?.pool ?? "") won")
            #expect(placement.rejections.count == topology.pools.count, "every pool says why")
            return
        }
        let winner = try #require(placement.winner, "seed \(seed): \(best.pool) fits")
        let estimate = winner.estimate
        let value: Double
        switch request.objective {
        case .completion: value = estimate.completionS
        case .cost: value = estimate.price
        case .latency: value = estimate.latencyMs + estimate.processingLatencyMs
        }
        #expect(close(value, best.value), "seed \(seed): winner \(winner.pool) at \(value), best \(best.pool) at \(best.value)")
        #expect(winner.pool == best.pool, "seed \(seed): ties break by pool id")
        #expect(winner.path.first == request.ingress)
        #expect(winner.path.last == topology.nodes[topology.pools.first { $0.id == winner.pool }!.node].id)
        for runnerUp in placement.runnersUp {
            #expect(runnerUp.pool != winner.pool)
        }
    }

    func gpuTopology() -> Topology {
        let nodes = [Topology.Node(id: "A", labels: ["country": "US"]), Topology.Node(id: "B", region: "eu")]
        let links = [Topology.Link(id: "ab", from: 0, to: 1, latencyMs: 10, capacityGbps: 10)]
        let pools = [
            Topology.Pool(id: "a-h100", node: 0, capacity: Resources(cpuCores: 64, memoryBytes: 512 << 30, gpus: ["H100": 8]), labels: ["tier": "ai"], price: Price(cpuCoreHour: 0.1, gpuHour: ["H100": 4])),
            Topology.Pool(id: "b-a100", node: 1, capacity: Resources(cpuCores: 64, memoryBytes: 512 << 30, gpus: ["A100": 8, "H100": 2]), labels: ["tier": "ai"], price: Price(cpuCoreHour: 0.01, gpuHour: ["A100": 1, "H100": 2])),
            Topology.Pool(id: "b-cpu", node: 1, capacity: Resources(cpuCores: 8, memoryBytes: 16 << 30), labels: ["tier": "cpu"]),
        ]
        return Topology(name: "gpus", nodes: nodes, links: links, pools: pools)
    }

    @Test(arguments: [
        (PlacementRequest(ingress: "A", gpuCount: 4, gpuModels: ["V100"]), "b-cpu", Check.gpuModel, "not 4 V100 in the pool (it has no GPUs)"),
        (PlacementRequest(ingress: "A", gpuCount: 4, gpuModels: ["H100"]), "b-a100", Check.gpuModel, "not 4 H100 in the pool (it has 8×A100, 2×H100)"),
        (PlacementRequest(ingress: "A", cpuCores: 32), "b-cpu", Check.resources, "8 of 8 cores free after leases, 32 asked"),
        (PlacementRequest(ingress: "A", memoryBytes: 32 << 30), "b-cpu", Check.resources, "16 GiB of memory free after leases, 32 GiB asked"),
        (PlacementRequest(ingress: "A", labels: [LabelConstraint("tier", .equals, ["ai"])]), "b-cpu", Check.labels, "label tier is cpu; tier=ai asked"),
        (PlacementRequest(ingress: "A", labels: [LabelConstraint("region", .in, ["us", "asia"])]), "b-cpu", Check.labels, "label region is eu; region in {us, asia} asked"),
        (PlacementRequest(ingress: "A", labels: [LabelConstraint("country", .notIn, ["US"])]), "a-h100", Check.labels, "label country is US; country not in {US} asked"),
        (PlacementRequest(ingress: "A", labels: [LabelConstraint("tenant", .equals, ["x"])]), "a-h100", Check.labels, "no label tenant; tenant=x asked"),
        (PlacementRequest(ingress: "A", minBandwidthGbps: 20), "b-cpu", Check.bandwidth, "no path with enough bandwidth: link A–B has 10 Gbps free, 20 Gbps asked"),
        (PlacementRequest(ingress: "A", maxLatencyMs: 5), "b-cpu", Check.latencyBudget, "the lowest-latency path takes 10 ms + processing 0 ms = 10 ms, over the 5 ms budget"),
    ])
    func eachCheckNamesItsReason(request: PlacementRequest, pool: String, check: Check, reason: String) throws {
        var engine = PlacementEngine(topology: gpuTopology(), declaredLiveness: .up)
        let placement = try engine.place(request, now: 0)
        let rejection = try #require(placement.rejections.first { $0.pool == pool }, "\(pool) is not rejected")
        #expect(rejection.check == check)
        #expect(rejection.reason == reason)
        #expect(Set(placement.rejections.map(\.pool)).count == placement.rejections.count, "one reason per pool")
    }

    @Test func downStaleAndUnreachablePoolsSayWhy() throws {
        var topology = gpuTopology()
        topology.links[0].isUp = false
        var engine = PlacementEngine(topology: topology, declaredLiveness: .up)
        engine.staleAfterS = 10
        engine.setLiveness("a-h100", .down, now: 0)
        _ = engine.apply(PoolReport(sequence: 1, free: Resources(cpuCores: 8, memoryBytes: 16 << 30)), from: "b-cpu", now: 0)
        let placement = try engine.place(PlacementRequest(ingress: "A"), now: 31)
        #expect(placement.winner == nil)
        let reasons = Dictionary(uniqueKeysWithValues: placement.rejections.map { ($0.pool, $0) })
        #expect(reasons["a-h100"]?.check == .poolDown)
        #expect(reasons["b-cpu"]?.check == .stale)
        #expect(reasons["b-cpu"]?.reason == "stale: last advertisement 31 s ago, limit 10 s")
        #expect(reasons["b-a100"]?.check == .unreachable)
        #expect(reasons["b-a100"]?.reason == "no path from A to B over links that are up")
    }

    @Test func aGPURequestTakesAnAllowedModelWithEnoughFree() throws {
        var engine = PlacementEngine(topology: gpuTopology(), declaredLiveness: .up)
        let cheapest = try engine.place(PlacementRequest(ingress: "A", gpuCount: 2, gpuModels: ["A100", "H100"], runtimeS: 3_600, objective: .cost), now: 0)
        #expect(cheapest.winner?.pool == "b-a100")
        #expect(cheapest.winner?.estimate.gpuModel == "A100")
        #expect(abs((cheapest.winner?.estimate.price ?? 0) - 2) < 1e-9, "2 A100 for an hour at 1 each")
        let fastest = try engine.place(PlacementRequest(ingress: "A", gpuCount: 8, gpuModels: ["H100"]), now: 0)
        #expect(fastest.winner?.pool == "a-h100")
    }

    @Test func requestsWithNonsenseAreRefused() {
        var engine = PlacementEngine(topology: gpuTopology(), declaredLiveness: .up)
        #expect(throws: PlacementError.unknownIngress("Z")) { try engine.place(PlacementRequest(ingress: "Z"), now: 0) }
        #expect(throws: PlacementError.self) { try engine.place(PlacementRequest(ingress: "A", cpuCores: -1), now: 0) }
        #expect(throws: PlacementError.self) { try engine.place(PlacementRequest(ingress: "A", dataBytes: .nan), now: 0) }
        #expect(throws: PlacementError.self) { try engine.place(PlacementRequest(ingress: "A", maxLatencyMs: 0), now: 0) }
        #expect(throws: PlacementError.self) { try engine.place(PlacementRequest(ingress: "A", gpuModels: ["H100"]), now: 0) }
    }

    @Test func aBigDataJobTakesTheWiderLongerPath() throws {
        // A short thin path and a long wide one to the same pool.
        let nodes = ["in", "thin", "wide", "pool"].map { Topology.Node(id: $0) }
        let links = [
            Topology.Link(id: "t1", from: 0, to: 1, latencyMs: 1, capacityGbps: 1),
            Topology.Link(id: "t2", from: 1, to: 3, latencyMs: 1, capacityGbps: 1),
            Topology.Link(id: "w1", from: 0, to: 2, latencyMs: 20, capacityGbps: 100),
            Topology.Link(id: "w2", from: 2, to: 3, latencyMs: 20, capacityGbps: 100),
        ]
        let topology = Topology(name: "two-paths", nodes: nodes, links: links, pools: [Topology.Pool(id: "p", node: 3, capacity: Resources(cpuCores: 4))])
        var engine = PlacementEngine(topology: topology, declaredLiveness: .up)
        let small = try engine.place(PlacementRequest(ingress: "in", dataBytes: 1e3), now: 0)
        #expect(small.winner?.path == ["in", "thin", "pool"])
        let large = try engine.place(PlacementRequest(ingress: "in", dataBytes: 100e9), now: 0)
        #expect(large.winner?.path == ["in", "wide", "pool"])
        #expect(abs((large.winner?.estimate.transferS ?? 0) - 8) < 1e-9, "100 GB at 100 Gbps")
    }

    @Test(arguments: 0..<6)
    func pruningSkipsPoolsThatCannotWinAndKeepsTheSameWinner(seed: Int) throws {
        var rng = SeededGenerator(seed: UInt64(4 + seed))
        let topology = randomTopology(nodes: 30, links: 80, pools: 300, using: &rng)
        var engine = PlacementEngine(topology: topology, declaredLiveness: .up)
        // Queue waits and speeds move pools between the index's groups.
        for (index, pool) in topology.pools.enumerated() where index % 3 == 0 {
            let report = PoolReport(
                sequence: 1, free: pool.capacity, queueWaitS: Double(Int.random(in: 0...500, using: &rng)),
                speed: [0.3, 0.9, 1.7, 3].randomElement(using: &rng)!
            )
            _ = engine.apply(report, from: pool.id, now: 0)
        }
        for ingress in topology.nodes.prefix(10) {
            for objective in Objective.allCases {
                var request = PlacementRequest(
                    ingress: ingress.id, cpuCores: Double(Int.random(in: 1...40, using: &rng)),
                    dataBytes: [0, 1e9, 1e11].randomElement(using: &rng)!, runtimeS: Double(Int.random(in: 0...3_000, using: &rng)),
                    objective: objective, alternatives: 2, explain: false
                )
                let fast = try engine.place(request, now: 0)
                request.explain = true
                let full = try engine.place(request, now: 0)
                #expect(fast.winner?.pool == full.winner?.pool, "seed \(seed) \(objective)")
                #expect(fast.winner?.estimate == full.winner?.estimate)
                #expect(fast.runnersUp.map(\.pool) == full.runnersUp.map(\.pool), "seed \(seed) \(objective)")
                #expect(full.pruned == 0)
                if objective == .completion, request.runtimeS > 100 {
                    #expect(fast.pruned > 0, "a bound ruled pools out")
                }
            }
        }
    }
}
