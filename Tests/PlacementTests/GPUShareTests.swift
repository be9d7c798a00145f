import Placement
import Testing
import Topology

@Suite("GPU shares")
struct GPUShareTests {
    /// One pool with two A100s next to the ingress.
    func twoGPUs() -> Topology {
        Topology(
            name: "two-gpus", nodes: [Topology.Node(id: "A")], links: [],
            pools: [Topology.Pool(id: "p", node: 0, capacity: Resources(cpuCores: 64, memoryBytes: 256 << 30, gpus: ["A100": 2]))]
        )
    }

    func share(_ part: Double) -> PlacementRequest {
        var request = PlacementRequest(ingress: "A", cpuCores: 1, gpuCount: 1, explain: false)
        request.gpuShare = part
        return request
    }

    @discardableResult
    func take(_ part: Double, _ engine: inout PlacementEngine) throws -> Lease? {
        let placement = try engine.place(share(part), now: 0)
        guard let winner = placement.winner, case .success(let lease) = engine.hold(winner, for: share(part), now: 0, ttl: 3_600) else { return nil }
        return lease
    }

    @Test func sharesFillTheFullestGPUFirstAndOpenAnotherOnlyWhenNoneHasRoom() throws {
        var engine = PlacementEngine(topology: twoGPUs(), declaredLiveness: .up)
        let first = try #require(try take(0.5, &engine))
        #expect(first.share == LeaseShare(model: "A100", gpu: 0, amount: 0.5))
        #expect(first.resources.gpus.isEmpty, "a share holds no whole GPU itself")
        #expect(engine.pool("p")?.available.gpus["A100"] == 1, "the shared GPU is taken whole")
        let second = try #require(try take(0.6, &engine))
        #expect(second.share?.gpu == 1, "0.6 does not fit beside 0.5")
        let third = try #require(try take(0.4, &engine))
        #expect(third.share?.gpu == 1, "the fullest GPU with room: 0.4 free on GPU 1, 0.5 on GPU 0")
        #expect(engine.pool("p")?.available.gpus["A100"] == 0)
        let fourth = try #require(try take(0.5, &engine))
        #expect(fourth.share?.gpu == 0)
        #expect(try take(0.1, &engine) == nil, "both GPUs are full")
        #expect(try engine.place(PlacementRequest(ingress: "A", gpuCount: 1), now: 0).winner == nil, "no whole GPU either")

        engine.release(second.id)
        engine.release(third.id)
        #expect(engine.pool("p")?.available.gpus["A100"] == 1, "an emptied GPU is whole again")
        #expect(engine.pool("p")?.sharedGPUs["A100"]?.map(\.index) == [0])
        #expect(try engine.place(PlacementRequest(ingress: "A", gpuCount: 1), now: 0).winner != nil)
    }

    @Test func aShareGoesToTheGPUWhereItLeavesRoomForTheSharesThatUsuallyCome() throws {
        var engine = PlacementEngine(topology: twoGPUs(), declaredLiveness: .up)
        // Most requests ask for half a GPU.
        for _ in 0..<20 { _ = try engine.place(share(0.5), now: 0) }
        #expect(try take(0.4, &engine)?.share?.gpu == 0)
        // The fullest GPU with room (0.6 on GPU 0) would keep 0.1 that no half can use.
        #expect(try take(0.5, &engine)?.share?.gpu == 1, "a second GPU shared: 0.6 and 0.5 left, both fit a half")
        // On GPU 1 a tenth would leave 0.4; on GPU 0 it leaves 0.5, which a half still fits.
        #expect(try take(0.1, &engine)?.share?.gpu == 0)
        #expect(engine.pool("p")?.sharedGPUs["A100"]?.map(\.room) == [0.5, 0.5])
    }

    @Test func aSharedGPUIsReservedUntilThePoolReportsItTaken() throws {
        var engine = PlacementEngine(topology: twoGPUs(), declaredLiveness: .up)
        let lease = try #require(try take(0.3, &engine))
        engine.markDispatched(lease.id, sequence: 1)
        #expect(engine.pool("p")?.reserved.gpus["A100"] == 1)
        // The agent applied dispatch 1 and counts the GPU as taken.
        _ = engine.apply(PoolReport(sequence: 1, free: Resources(cpuCores: 63, memoryBytes: 256 << 30, gpus: ["A100": 1]), dispatchSequenceApplied: 1), from: "p", now: 1)
        #expect(engine.pool("p")?.reserved.gpus["A100"] ?? 0 == 0, "no longer double counted")
        #expect(engine.pool("p")?.available.gpus["A100"] == 1)
        #expect(engine.pool("p")?.sharedGPUs["A100"]?.first?.reflected == true)
        engine.release(lease.id)
        #expect(engine.pool("p")?.available.gpus["A100"] == 1, "the pool frees it in its next advertisement")
        #expect(engine.pool("p")?.sharedGPUs["A100"] == nil)
    }

    @Test func aShareCanBeHeldOnTheGPUItWasGiven() throws {
        var engine = PlacementEngine(topology: twoGPUs(), declaredLiveness: .up)
        let placement = try engine.place(share(0.5), now: 0)
        let winner = try #require(placement.winner)
        guard case .success(let lease) = engine.hold(winner, for: share(0.5), now: 0, ttl: 60, sharedGPU: 1) else {
            Issue.record("not held")
            return
        }
        #expect(lease.share?.gpu == 1)
        guard case .success(let beside) = engine.hold(winner, for: share(0.5), now: 0, ttl: 60, sharedGPU: 1) else {
            Issue.record("not held beside it")
            return
        }
        #expect(beside.share?.gpu == 1)
        guard case .failure = engine.hold(winner, for: share(0.5), now: 0, ttl: 60, sharedGPU: 1) else {
            Issue.record("a full GPU took a third half")
            return
        }
    }

    @Test func sharesAreCheckedAndExplained() throws {
        var engine = PlacementEngine(topology: twoGPUs(), declaredLiveness: .up)
        var twoShared = share(0.5)
        twoShared.gpuCount = 2
        #expect(throws: PlacementError.self) { try engine.place(twoShared, now: 0) }
        #expect(throws: PlacementError.self) { try engine.place(share(0), now: 0) }
        #expect(throws: PlacementError.self) { try engine.place(share(1.5), now: 0) }
        try take(0.9, &engine)
        try take(0.9, &engine)
        var explained = share(0.2)
        explained.explain = true
        let placement = try engine.place(explained, now: 0)
        #expect(placement.winner == nil)
        #expect(placement.rejections.first?.reason == "no GPU with 0.2 of it free: 0 A100 whole after leases, at most 0.1 of a shared A100")
    }

    @Test func bestFitPrefersThePoolWhoseSharedGPUItFillsBest() throws {
        let topology = Topology(
            name: "two-pools", nodes: [Topology.Node(id: "A")], links: [],
            pools: ["p", "q"].map { Topology.Pool(id: $0, node: 0, capacity: Resources(cpuCores: 64, gpus: ["A100": 1])) }
        )
        var engine = PlacementEngine(topology: topology, declaredLiveness: .up)
        // p's GPU gets 0.3, q's 0.6: a 0.4 fits q best (0 left).
        for (pool, part) in [("p", 0.3), ("q", 0.6)] {
            var request = share(part)
            request.excludedPools = [pool == "p" ? "q" : "p"]
            let winner = try #require(try engine.place(request, now: 0).winner)
            guard case .success = engine.hold(winner, for: request, now: 0, ttl: 60) else { Issue.record("not held"); return }
        }
        var request = share(0.4)
        request.policy = .computeOnly
        #expect(try engine.place(request, now: 0).winner?.pool == "q")
    }
}
