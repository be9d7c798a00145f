import Placement
import Routing
import Testing
import Topology

/// Two pools behind a 10 Gbps link.
func leaseTopology() -> Topology {
    let nodes = ["in", "mid", "out"].map { Topology.Node(id: $0) }
    let links = [
        Topology.Link(id: "a", from: 0, to: 1, latencyMs: 1, capacityGbps: 10),
        Topology.Link(id: "b", from: 1, to: 2, latencyMs: 1, capacityGbps: 10),
    ]
    let pools = [
        Topology.Pool(id: "mid-pool", node: 1, capacity: Resources(cpuCores: 8, memoryBytes: 32 << 30, gpus: ["A100": 2])),
        Topology.Pool(id: "out-pool", node: 2, capacity: Resources(cpuCores: 64, memoryBytes: 256 << 30)),
    ]
    return Topology(name: "leases", nodes: nodes, links: links, pools: pools)
}

@Suite("Leases")
struct LeaseTests {
    @Test func aHoldTakesResourcesAndBandwidthAndReleaseGivesThemBack() throws {
        var engine = PlacementEngine(topology: leaseTopology(), declaredLiveness: .up)
        let request = PlacementRequest(ingress: "in", cpuCores: 6, gpuCount: 1, minBandwidthGbps: 4)
        let winner = try #require(try engine.place(request, now: 0).winner)
        #expect(winner.pool == "mid-pool")
        let lease = try engine.hold(winner, for: request, now: 0, ttl: 60).get()
        #expect(lease.resources.gpus == ["A100": 1])
        #expect(engine.pool("mid-pool")?.available.cpuCores == 2)
        #expect(engine.pool("mid-pool")?.available.gpus["A100"] == 1)
        #expect(engine.network.availableGbps[lease.slots[0]] == 6)

        // The same again fits nowhere now, and the reason counts the lease.
        let second = try engine.place(request, now: 0)
        #expect(second.winner == nil)
        #expect(second.rejections.first { $0.pool == "mid-pool" }?.reason == "2 of 8 cores free after leases, 6 asked")

        #expect(engine.release(lease.id) != nil)
        #expect(engine.pool("mid-pool")?.available.cpuCores == 8)
        #expect(engine.network.availableGbps[lease.slots[0]] == 10)
        #expect(engine.release(lease.id) == nil, "a second release does nothing")
    }

    @Test func aHoldIsAllOrNothing() throws {
        var engine = PlacementEngine(topology: leaseTopology(), declaredLiveness: .up)
        let wide = PlacementRequest(ingress: "in", cpuCores: 1, minBandwidthGbps: 8)
        let first = try #require(try engine.place(wide, now: 0).winner)
        let stale = try #require(try engine.place(wide, now: 0).winner)
        _ = try engine.hold(first, for: wide, now: 0, ttl: 60).get()
        let before = (engine.pools, engine.network.availableGbps)
        // The second placement was made before the first hold; its bandwidth is gone now.
        guard case .failure(.bandwidth(let reason)) = engine.hold(stale, for: wide, now: 0, ttl: 60) else {
            Issue.record("the second hold should fail on bandwidth")
            return
        }
        #expect(reason == "link in–mid now has 2 Gbps free, 8 Gbps asked")
        #expect(engine.pools == before.0, "no pool resources were taken")
        #expect(engine.network.availableGbps == before.1, "no bandwidth was taken")
    }

    @Test(arguments: 0..<20)
    func interleavedHoldsAndReleasesNeverOversubscribe(seed: Int) throws {
        var rng = SeededGenerator(seed: UInt64(seed))
        let topology = randomTopology(nodes: 8, links: 16, pools: 6, using: &rng)
        var engine = PlacementEngine(topology: topology, declaredLiveness: .up)
        var held: [UInt64] = []
        for step in 0..<300 {
            if !held.isEmpty, Bool.random(using: &rng) {
                let lease = held.remove(at: Int.random(in: 0..<held.count, using: &rng))
                #expect(engine.release(lease) != nil)
            } else {
                let request = PlacementRequest(
                    ingress: topology.nodes.randomElement(using: &rng)!.id,
                    cpuCores: Double(Int.random(in: 1...16, using: &rng)),
                    minBandwidthGbps: [0, 0.5, 1, 2].randomElement(using: &rng)!,
                    explain: false
                )
                guard let winner = try engine.place(request, now: Double(step)).winner else { continue }
                if case .success(let lease) = engine.hold(winner, for: request, now: Double(step), ttl: 1_000) { held.append(lease.id) }
            }
            for pool in engine.pools {
                #expect(pool.reserved.cpuCores <= pool.total.cpuCores + 1e-9, "seed \(seed) step \(step): \(pool.id) oversubscribed")
            }
            for slot in engine.network.heldGbps.indices {
                #expect(engine.network.heldGbps[slot] <= engine.network.capacityGbps[slot >> 1] + 1e-9, "seed \(seed) step \(step): slot \(slot) oversubscribed")
            }
        }
        for lease in held { engine.release(lease) }
        #expect(engine.pools.allSatisfy { $0.reserved.cpuCores < 1e-9 })
        #expect(engine.network.heldGbps.allSatisfy { $0 == 0 })
    }

    @Test func aLeaseNamedForRenewalRunsAnotherTimeLimit() throws {
        var engine = PlacementEngine(topology: leaseTopology(), declaredLiveness: .up)
        let request = PlacementRequest(ingress: "in", cpuCores: 2)
        let first = try #require(try engine.place(request, now: 0).winner)
        let kept = try engine.hold(first, for: request, now: 100, ttl: 30).get()
        let second = try #require(try engine.place(request, now: 0).winner)
        let lost = try engine.hold(second, for: request, now: 100, ttl: 30).get()
        #expect(engine.expireLeases(now: 130, renewing: [kept.id], ttl: 30).map(\.id) == [lost.id])
        #expect(engine.activeLeases.map(\.id) == [kept.id])
        #expect(engine.activeLeases.first?.expiresAt == 160)
        #expect(engine.expireLeases(now: 159, renewing: [kept.id], ttl: 30).isEmpty && !engine.leaseDue(now: 159))
        #expect(engine.expireLeases(now: 160).map(\.id) == [kept.id], "not named, it goes")
    }

    @Test func expiryFreesWhatALeaseHeld() throws {
        var engine = PlacementEngine(topology: leaseTopology(), declaredLiveness: .up)
        let request = PlacementRequest(ingress: "in", cpuCores: 8, minBandwidthGbps: 1)
        let winner = try #require(try engine.place(request, now: 0).winner)
        let lease = try engine.hold(winner, for: request, now: 100, ttl: 30).get()
        #expect(engine.expireLeases(now: 129).isEmpty)
        #expect(engine.expireLeases(now: 130).map(\.id) == [lease.id])
        #expect(engine.activeLeases.isEmpty)
        #expect(engine.pool(winner.pool)?.available.cpuCores == engine.pool(winner.pool)?.total.cpuCores)
        #expect(engine.network.heldGbps.allSatisfy { $0 == 0 })
    }

    @Test func advertisementsReflectDispatchesSoNothingCountsTwice() throws {
        var engine = PlacementEngine(topology: leaseTopology(), declaredLiveness: .up)
        let request = PlacementRequest(ingress: "in", cpuCores: 6)
        let winner = try #require(try engine.place(request, now: 0).winner)
        #expect(winner.pool == "mid-pool")
        let lease = try engine.hold(winner, for: request, now: 0, ttl: 60).get()
        engine.markDispatched(lease.id, sequence: 5)
        #expect(engine.pool("mid-pool")?.available.cpuCores == 2)

        // An advertisement from before the dispatch: the pool still shows 8 free, the lease
        // still counts here, so 2 are available, not 8.
        #expect(engine.apply(PoolReport(sequence: 1, free: Resources(cpuCores: 8, memoryBytes: 32 << 30), dispatchSequenceApplied: 4), from: "mid-pool", now: 1) == .applied)
        #expect(engine.pool("mid-pool")?.available.cpuCores == 2)

        // The pool now reflects the dispatch: its free count carries the job, the lease no
        // longer reserves here, and the job is not counted twice.
        #expect(engine.apply(PoolReport(sequence: 2, free: Resources(cpuCores: 2, memoryBytes: 32 << 30), dispatchSequenceApplied: 5), from: "mid-pool", now: 2) == .applied)
        #expect(engine.pool("mid-pool")?.available.cpuCores == 2)
        #expect(engine.pool("mid-pool")?.reserved.cpuCores == 0)
        #expect(engine.lease(lease.id)?.reflected == true)

        // Releasing a reflected lease gives nothing back here; the pool's next report will.
        engine.release(lease.id)
        #expect(engine.pool("mid-pool")?.available.cpuCores == 2)

        #expect(engine.apply(PoolReport(sequence: 2, free: Resources(cpuCores: 8)), from: "mid-pool", now: 3) == .stale(last: 2))
        #expect(engine.apply(PoolReport(sequence: 3, free: Resources(cpuCores: 8)), from: "nobody", now: 3) == .unknownPool)
    }
}

@Suite("Routing tables")
struct RoutingTableTests {
    @Test func tablesAreVersionedAndDiffed() throws {
        var engine = PlacementEngine(topology: leaseTopology(), declaredLiveness: .up)
        let first = try engine.routingTable(from: "in", now: 0)
        #expect(first.rows.map(\.pool) == ["mid-pool", "out-pool"])
        #expect(first.rows[1].path == ["in", "mid", "out"])
        #expect(first.rows[1].latencyMs == 2)
        #expect(RoutingTableDiff(from: first, to: first).isEmpty)

        engine.setLink(1, up: false)
        let second = try engine.routingTable(from: "in", now: 0)
        #expect(second.version > first.version)
        let diff = RoutingTableDiff(from: first, to: second)
        #expect(diff.changed.map(\.pool) == ["out-pool"])
        #expect(diff.changed.first?.isReachable == false)
        #expect(diff.added.isEmpty && diff.removed.isEmpty)

        engine.upsertPool(PoolState(id: "new", node: 0, total: Resources(cpuCores: 1), liveness: .up))
        let third = try engine.routingTable(from: "in", now: 0)
        let added = RoutingTableDiff(from: second, to: third)
        #expect(added.added.map(\.pool) == ["new"])
        #expect(RoutingTableDiff(from: third, to: second).removed == ["new"])
    }

    @Test func alternativesAreListedPerRow() throws {
        var topology = leaseTopology()
        topology.links.append(Topology.Link(id: "c", from: 0, to: 2, latencyMs: 5, capacityGbps: 1))
        var engine = PlacementEngine(topology: topology, declaredLiveness: .up)
        let table = try engine.routingTable(from: "in", alternatives: 1, now: 0)
        let out = try #require(table.rows.first { $0.pool == "out-pool" })
        #expect(out.path == ["in", "mid", "out"])
        #expect(out.alternatives == [["in", "out"]])
        #expect(out.alternativeLatencyMs == [5])
    }

    @Test func manyChangesCostOneRecomputationForTheTable() throws {
        var rng = SeededGenerator(seed: 8)
        var engine = PlacementEngine(topology: randomTopology(nodes: 50, links: 150, pools: 20, using: &rng), declaredLiveness: .up)
        _ = try engine.routingTable(from: "n0", now: 0)
        let before = engine.routeSearches
        for change in 0..<1_000 { engine.setLink(change % 150, up: change % 2 == 0) }
        _ = try engine.routingTable(from: "n0", now: 0)
        _ = try engine.place(PlacementRequest(ingress: "n0", cpuCores: 1), now: 0)
        #expect(engine.routeSearches == before + 1)
    }
}
