import ControllerCore
import Placement
import Testing
import Topology

@Suite("Dampening chatty and flapping pools")
struct DampeningTests {
    @Test func aChattyPoolsNewestReportArrivesAtTheAllowedRate() {
        var harness = Harness()
        harness.register("east", pool: "east-1", node: "east")
        func advertise(_ sequence: UInt64, free cores: Double) {
            _ = harness.pool("east", .advertisement(PoolAdvertisement(poolID: "east-1", sequence: sequence, free: Resources(cpuCores: cores, memoryBytes: 64 << 30))))
        }
        // The allowance is 20 at once and 10 a second: 30 at one instant apply 20, keep the newest.
        for sequence in 1...30 { advertise(UInt64(sequence), free: Double(sequence % 16)) }
        #expect(harness.core.advertisementsApplied == 20)
        #expect(harness.core.dropped["pools.advertisement_dampened"] == 10)
        #expect(harness.core.engine.pool("east-1")?.free.cpuCores == 4, "the 20th report is in force")
        harness.seconds += 0.1
        _ = harness.send(.tick)
        #expect(harness.core.advertisementsApplied == 21, "one token later, the newest kept report (the 30th) applies")
        #expect(harness.core.engine.pool("east-1")?.free.cpuCores == 14)
        // At the allowed rate nothing waits.
        for sequence in 31...40 {
            harness.seconds += 0.11
            advertise(UInt64(sequence), free: 8)
        }
        #expect(harness.core.dropped["pools.advertisement_dampened"] == 10)
        #expect(harness.core.advertisementsApplied == 31)
    }

    @Test func aFlappingPoolGetsNoNewWorkUntilItsPenaltyDecays() {
        var harness = Harness()
        harness.register("west", pool: "west-1", node: "west")
        for _ in 1...3 {
            _ = harness.pool("east", .register(PoolRegistration(poolID: "east-1", node: "east", total: Resources(cpuCores: 16, memoryBytes: 64 << 30))))
            _ = harness.pool("east", .goodbye(reason: "restarting"))
            harness.seconds += 1
        }
        harness.register("east", pool: "east-1", node: "east")
        #expect(harness.core.engine.pool("east-1")?.liveness == .dampened)
        #expect(harness.core.dropped["pools.flap_dampened"] == 1)
        // The nearer pool is passed over while it flaps; the job goes west.
        let first = harness.submit(cores: 2)
        #expect(harness.status(first ?? "")?.pool == "west-1")
        // A reload keeps the pool dampened, and still lets it go once its penalty has decayed.
        _ = harness.send(.topologyLoaded(twoSites(), path: "sites.yaml", replyTo: nil, correlationID: 0))
        #expect(harness.core.engine.pool("east-1")?.liveness == .dampened)
        // About three losses decay to below one in under two half-lives (60 s each, by default).
        for second in 1...120 {
            harness.seconds += 1
            for (peer, pool) in [("east", "east-1"), ("west", "west-1")] {
                _ = harness.pool(peer, .advertisement(PoolAdvertisement(poolID: pool, sequence: UInt64(second), free: Resources(cpuCores: 16, memoryBytes: 64 << 30))))
            }
            _ = harness.send(.tick)
        }
        #expect(harness.core.engine.pool("east-1")?.liveness == .up)
        let second = harness.submit(cores: 2)
        #expect(harness.status(second ?? "")?.pool == "east-1")
    }

    @Test func oneReconnectIsNoFlap() {
        var harness = Harness()
        harness.register("east", pool: "east-1", node: "east")
        _ = harness.pool("east", .goodbye(reason: "upgrade"))
        harness.register("east", pool: "east-1", node: "east")
        #expect(harness.core.engine.pool("east-1")?.liveness == .up)
    }
}
