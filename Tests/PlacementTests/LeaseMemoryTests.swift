@testable import Placement
import Testing

@Suite("Lease bookkeeping")
struct LeaseMemoryTests {
    @Test func releasedLeasesLeaveNoExpectedEndBehind() throws {
        // Day-long jobs that come and go within seconds: their expected ends lie a day out, so
        // none falls due while they churn.
        var engine = PlacementEngine(topology: planTopology(), declaredLiveness: .up)
        let request = PlacementRequest(ingress: "in", cpuCores: 1, gpuCount: 1, runtimeS: 86_400, explain: false)
        for second in 0..<10_000 {
            let lease = try placeNow(&engine, request, now: Double(second))
            #expect(engine.release(lease.id) != nil)
        }
        #expect(engine.expectedEnds.count <= 1_024 + 1, "\(engine.expectedEnds.count) entries for no live lease")
    }
}
