import ControllerCore
import Placement
import Testing
import Topology

@Suite("Usage accounting")
struct AccountingTests {
    @Test func aJobIsChargedAtThePricesItsPoolHadWhenItWasDispatched() {
        var harness = Harness()
        let price = Price(cpuCoreHour: 0.5, gpuHour: ["A100": 3])
        _ = harness.pool("east", .register(PoolRegistration(
            poolID: "east-1", node: "east", total: Resources(cpuCores: 16, memoryBytes: 64 << 30, gpus: ["A100": 2]), price: price
        )))
        let submission = Submission(
            request: PlacementRequest(ingress: "in", cpuCores: 4, memoryBytes: 8 << 30, gpuCount: 1, gpuModels: ["A100"]),
            spec: JobSpec(command: "/bin/train", resources: Resources(cpuCores: 4, memoryBytes: 8 << 30), owner: "forged")
        )
        guard let job = harness.submit(submission) else {
            Issue.record("the job is placed")
            return
        }
        // The pool raises its prices while the job runs: the job keeps the ones it was sent at.
        _ = harness.pool("east", .advertisement(PoolAdvertisement(
            poolID: "east-1", sequence: 1, free: Resources(cpuCores: 12, memoryBytes: 56 << 30, gpus: ["A100": 1]), price: Price(cpuCoreHour: 5, gpuHour: ["A100": 30])
        )))
        harness.report("east", job, .running, attempt: 1)
        harness.report("east", job, .succeeded, attempt: 1, usage: JobUsage(wallSeconds: 1_800, coreSeconds: 7_200, gpuSeconds: 1_800, bytesIn: 1_000, bytesOut: 24))
        let charge = harness.status(job)?.charge
        #expect(charge?.coreSeconds == 7_200)
        #expect(charge?.gpuSeconds == ["A100": 1_800])
        #expect(charge.map { abs($0.memoryGiBSeconds - 8 * 1_800) < 1e-6 } == true, "8 GiB for half an hour")
        #expect(charge?.bytesMoved == 1_024)
        #expect(charge?.cost == 2 * 0.5 + 0.5 * 3, "2 core-hours at 0.5 and half a GPU-hour at 3")
        #expect(harness.status(job)?.dispatchPrice == price)

        let summary = UsageSummary([harness.status(job)!, harness.status(job)!], by: .pool)
        #expect(summary.rows.map(\.key) == ["east-1"] && summary.rows.first?.jobs == 2 && summary.jobs == 2)
        #expect(summary.rows.first?.charge.cost == 2 * 2.5)
    }

    @Test func aPeriodThatEndsBeforeItStartsIsRefused() {
        var harness = Harness()
        guard case .error(let error)? = harness.client(.usage(UsageQuery(sinceMs: 10, untilMs: 10, by: .owner))) else {
            Issue.record("an empty period is an error")
            return
        }
        #expect(error.code == .invalidRequest)
        let asked = harness.send(.fromClient(ClientAddress(frames: [[1]]), correlationID: 3, .usage(UsageQuery(sinceMs: 0, untilMs: 10, by: .pool))))
        #expect(asked.contains { if case .query(.usage(_, nil), _, 3) = $0 { true } else { false } }, "the store answers it")
    }
}
