import Placement
import Simulation
import Testing
import Topology

/// An ingress with a slow pool next door and a fast one far away.
func nearAndFar() -> Topology {
    let nodes = ["users", "near", "far"].map { Topology.Node(id: $0) }
    let links = [
        Topology.Link(id: "n", from: 0, to: 1, latencyMs: 1, capacityGbps: 10),
        Topology.Link(id: "f", from: 0, to: 2, latencyMs: 40, capacityGbps: 10),
    ]
    let pools = [
        Topology.Pool(id: "near-slow", node: 1, capacity: Resources(cpuCores: 8), speed: 0.5),
        Topology.Pool(id: "far-fast", node: 2, capacity: Resources(cpuCores: 8), speed: 2),
    ]
    return Topology(name: "near-and-far", nodes: nodes, links: links, pools: pools)
}

/// One site reached directly (1 ms) or through a detour (10 ms).
func detour() -> Topology {
    let nodes = ["users", "site", "mid"].map { Topology.Node(id: $0) }
    let links = [
        Topology.Link(id: "direct", from: 0, to: 1, latencyMs: 1, capacityGbps: 10),
        Topology.Link(id: "users-mid", from: 0, to: 2, latencyMs: 5, capacityGbps: 10),
        Topology.Link(id: "mid-site", from: 2, to: 1, latencyMs: 5, capacityGbps: 10),
    ]
    return Topology(name: "detour", nodes: nodes, links: links, pools: [Topology.Pool(id: "site-pool", node: 1, capacity: Resources(cpuCores: 8))])
}

func simulate(_ jobs: [TraceJob], on topology: Topology = nearAndFar(), policy: Policy = .joint, configure: (inout SimulationSetup) -> Void = { _ in }) -> SimulationReport {
    var setup = SimulationSetup(topology: topology, jobs: jobs, policy: policy, ingress: IngressWeights(uniformOver: ["users"]))
    configure(&setup)
    var simulator = Simulator(setup)
    return simulator.run()
}

@Suite("Simulator")
struct SimulatorTests {
    @Test func jobsQueueWhenNothingFitsAndRunWhenRoomFrees() {
        let report = simulate((0..<3).map { TraceJob(id: "j\($0)", arrivalS: 0, runtimeS: 100, cpuCores: 8) })
        #expect(report.completed == 3)
        // The fast pool runs a job in 50 s, the slow one in 200 s: waiting for the fast pool
        // finishes sooner, so all three are planned there, one after another.
        #expect(report.meanQueueS > 0)
        #expect(abs(report.p50CompletionS - 100.08) < 1e-6, "the second starts when the first ends")
        #expect(abs(report.simulatedSeconds - 150.12) < 1e-6, "three 50 s runs on the fast pool, each 40 ms away")
        // A fourth would end at 200.16 s on the fast pool's plan and at 200.001 s on the slow
        // pool now: it goes there; a fifth is planned on the fast pool again.
        let five = simulate((0..<5).map { TraceJob(id: "j\($0)", arrivalS: 0, runtimeS: 100, cpuCores: 8) })
        #expect(five.completed == 5)
        #expect(five.completionPercentilesS.filter { abs($0 - 200.001) < 1e-6 }.count >= 1, "the fourth on the slow pool: \(five.completionPercentilesS)")
        #expect(abs(five.simulatedSeconds - 200.16) < 1e-6)
    }

    @Test func jointPlacementBeatsNearestWhenComputeDominates() {
        let jobs = (0..<40).map { TraceJob(id: "j\($0)", arrivalS: Double($0) * 31, runtimeS: 120, cpuCores: 4) }
        let joint = simulate(jobs, policy: .joint)
        let nearest = simulate(jobs, policy: .networkOnly)
        #expect(joint.completed == 40 && nearest.completed == 40)
        #expect(abs(joint.meanCompletionS - 60.04) < 0.01, "every job on the fast pool: 40 ms away, then 120 s / 2")
        #expect(nearest.meanCompletionS > joint.meanCompletionS * 1.5, "nearest-first fills the slow pool")
        #expect(joint.policy == "junction" && nearest.policy == "network-only")
    }

    @Test func aJobThatRunsForWeeksKeepsItsPoolUntilItEnds() throws {
        // Thirty days on the whole pool; a week and more in, a link off the job's path fails and
        // comes back, so the controller looks at its leases; then a second job for the pool. It
        // may start only when the first ends, past the controller's lease time limit.
        let day = 86_400.0
        let jobs = [
            TraceJob(id: "long", arrivalS: 0, runtimeS: 30 * day, cpuCores: 8),
            TraceJob(id: "next", arrivalS: 9 * day, runtimeS: 100, cpuCores: 8),
        ]
        let topology = detour()
        let failure = try Failure.parse("link:users-mid@\(8 * day)+60", in: topology)
        let report = simulate(jobs, on: topology) { $0.failures = [failure] }
        #expect(report.completed == 2)
        let waited = report.completionPercentilesS.first!
        #expect(waited > 21 * day + 100, "the second waited for the first to end: done \(waited) s after it came")
    }

    @Test func offeredLoadIsWhatTheJobsWouldHoldWhileMostOfThemArrive() {
        // With four jobs the window is from the first arrival to the last: 16 cores over 200 s
        // hold 3,200 core-seconds. Three 8-core jobs of 100 s arrive at 0, 100 and 200 s; a
        // 4-core job of 10,000 s at 150 s counts only up to the window's end:
        // 8 × 100 + 8 × 100 + 0 + 4 × 50 = 1,800.
        var jobs = (0..<3).map { TraceJob(id: "j\($0)", arrivalS: Double($0) * 100, runtimeS: 100, cpuCores: 8) }
        jobs.append(TraceJob(id: "long", arrivalS: 150, runtimeS: 10_000, cpuCores: 4))
        let report = simulate(jobs.sorted { $0.arrivalS < $1.arrivalS })
        #expect(abs(report.offeredCPULoad - 1_800.0 / 3_200) < 1e-9, "\(report.offeredCPULoad)")
        #expect(report.offeredGPULoad == 0)
    }

    @Test func aSweepGroupsItsRunsByTimeScaleInOrderOfLoad() {
        let jobs = (0..<12).map { TraceJob(id: "j\($0)", arrivalS: Double($0) * 40, runtimeS: 120, cpuCores: 4) }
        var runs: [SweepRun] = []
        for scale in [3.0, 1.0] {
            for seed: UInt64 in [1, 2] {
                let reports = [Policy.joint, .computeOnly, .networkOnly].map { policy in
                    simulate(jobs, policy: policy) {
                        $0.timeScale = scale
                        $0.seed = seed
                    }
                }
                runs.append(SweepRun(timeScale: scale, seed: seed, reports: reports))
            }
        }
        let points = runs.points
        #expect(points.map(\.timeScale) == [1, 3], "the lower rate is the lower load")
        #expect(points[1].offeredLoad > 2 * points[0].offeredLoad)
        #expect(points[0].meanCompletionS.map(\.policy) == ["junction", "compute-only", "network-only"])
        let run = runs[2]
        let nearest = run.reports[2].meanCompletionS
        #expect(run.bestOneSided?.meanCompletionS == min(run.reports[1].meanCompletionS, nearest))
        #expect(abs(run.gain(against: "network-only")! - (1 - run.reports[0].meanCompletionS / nearest) * 100) < 1e-9)
        #expect(points[0].gains.count == 2 && run.gain(against: "random") == nil)
        #expect(runs.gainChart.lines.map(\.name) == ["vs best one-sided", "vs compute-only", "vs network-only"])
    }

    @Test func aJobNoPathCanCarryIsCountedNotWaitedFor() {
        let jobs = [TraceJob(id: "wide", arrivalS: 0, runtimeS: 10, cpuCores: 1, dataBytes: 1e9)]
        let report = simulate(jobs) { $0.transferGbps = 40 }
        #expect(report.neverFit == 1, "every link has 10 Gbps")
        #expect(report.stillWaiting == 0)
    }

    @Test func aJobThatFitsNowhereIsCountedNotWaitedFor() {
        let report = simulate([TraceJob(id: "huge", arrivalS: 0, runtimeS: 10, cpuCores: 64), TraceJob(id: "ok", arrivalS: 1, runtimeS: 10, cpuCores: 1)])
        #expect(report.neverFit == 1)
        #expect(report.completed == 1)
    }

    @Test func dataMovesOverThePathAndCountsDistance() {
        let report = simulate([TraceJob(id: "big-input", arrivalS: 0, runtimeS: 10, cpuCores: 1, dataBytes: 10e9)], policy: .networkOnly) { $0.transferGbps = 10 }
        #expect(abs(report.meanTransferS - 8) < 1e-6, "10 GB at the 10 Gbps reserved")
        #expect(abs(report.gigabyteKilometres - 10 * 200) < 1e-6, "10 GB over 1 ms of fibre")
        #expect(abs(report.meanCompletionS - (0.001 + 8 + 20)) < 1e-6, "latency, transfer, then 10 s at half speed")
    }

    @Test func aTransferHoldsItsBandwidthUntilTheInputArrives() {
        let jobs = (0..<3).map { TraceJob(id: "j\($0)", arrivalS: 0, runtimeS: 10, cpuCores: 1, dataBytes: 10e9) }
        let held = simulate(jobs, policy: .networkOnly) { $0.transferGbps = 10 }
        // Both links carry one 10 Gbps transfer; the third job waits for the near one to finish.
        #expect(held.completed == 3)
        #expect(abs(held.meanQueueS - 8.001 / 3) < 1e-3)
        let unheld = simulate(jobs, policy: .networkOnly) { $0.transferGbps = 0 }
        #expect(unheld.meanQueueS == 0, "without a reservation transfers share the link freely")
    }

    @Test func aFailedPoolsJobsArePlacedAgain() {
        let jobs = (0..<2).map { TraceJob(id: "j\($0)", arrivalS: 0, runtimeS: 100, cpuCores: 4) }
        let topology = nearAndFar()
        let failure = Failure(target: .pool("far-fast"), atS: 10, untilS: nil, text: "pool:far-fast@10")
        let report = simulate(jobs, on: topology) { $0.failures = [failure] }
        #expect(report.completed == 2)
        #expect(report.replacements == 2)
        var setup = SimulationSetup(topology: topology, jobs: jobs, policy: .joint, ingress: IngressWeights(uniformOver: ["users"]))
        setup.failures = [failure]
        var simulator = Simulator(setup)
        _ = simulator.run()
        let records = simulator.jobRecords
        #expect(records.map(\.id) == ["j0", "j1"])
        #expect(records.allSatisfy { $0.placements == 2 && $0.pool == "near-slow" && $0.startS == 0 && $0.pathLatencyMs == 1 })
        #expect(records.allSatisfy { abs(($0.endS ?? 0) - 210.001) < 1e-6 })
        #expect(abs(report.simulatedSeconds - (10 + 0.001 + 200)) < 1e-6, "both start again on the slow pool at 10 s")
    }

    @Test func aJobWithNowhereToGoWaitsForThePoolToComeBack() {
        let jobs = [TraceJob(id: "a", arrivalS: 0, runtimeS: 100, cpuCores: 8), TraceJob(id: "b", arrivalS: 0, runtimeS: 100, cpuCores: 8)]
        let failure = Failure(target: .pool("far-fast"), atS: 10, untilS: 60, text: "pool:far-fast@10+50")
        let report = simulate(jobs) { $0.failures = [failure] }
        #expect(report.completed == 2)
        #expect(report.replacements == 1)
        // a runs on the fast pool from 0 and b is planned after it. At 10 s the fast pool is
        // lost: a goes to the slow pool (done at 210 s) and b's plan moves behind it; when the fast
        // pool is back at 60 s, b's plan moves there (done 50.04 s later).
        #expect(abs(report.completionPercentilesS.last! - 210.001) < 1e-6)
        #expect(abs(report.completionPercentilesS.first! - 110.04) < 1e-6)
    }

    @Test func aLinkFailureReroutesInputStillMovingAndCountsTheBrokenBudget() throws {
        let jobs = [TraceJob(id: "a", arrivalS: 0, runtimeS: 10, cpuCores: 1, dataBytes: 100e9)]
        let topology = detour()
        let failure = try Failure.parse("link:users-site@40", in: topology)
        // Compute-only is not told the budget, so its job follows the detour and breaks it.
        let blind = simulate(jobs, on: topology, policy: .computeOnly) {
            $0.failures = [failure]
            $0.latencyBudgetMs = 5
            $0.transferGbps = 10
        }
        #expect(blind.reroutes == 1)
        #expect(blind.budgetJobs == 1 && blind.budgetViolations == 1, "the detour takes 10 ms")
        // Half of the 80 s transfer is left at 40 s; it goes on over the detour.
        let expected = 40 + 0.010 + 80 * (80.001 - 40) / 80.001 + 10
        #expect(abs(blind.meanCompletionS - expected) < 1e-6)
        #expect(abs(blind.meanTransferS - 80) < 0.01, "the transfer took its 80 s, in two parts")
    }

    @Test func aJobWhosePathBreaksItsBudgetWaitsForTheLink() throws {
        let jobs = [TraceJob(id: "a", arrivalS: 0, runtimeS: 10, cpuCores: 1, dataBytes: 100e9)]
        let topology = detour()
        let failure = try Failure.parse("link:direct@40+60", in: topology)
        let joint = simulate(jobs, on: topology) {
            $0.failures = [failure]
            $0.latencyBudgetMs = 5
            $0.transferGbps = 10
        }
        #expect(joint.reroutes == 0 && joint.budgetViolations == 0)
        #expect(joint.replacements == 1)
        #expect(abs(joint.meanCompletionS - (100 + 0.001 + 80 + 10)) < 1e-6, "placed again when the link is back")
    }

    @Test func aLinkStaysDownUntilItsLastOverlappingFailureEnds() throws {
        let topology = detour()
        let failures = [try Failure.parse("link:direct@10+100", in: topology), try Failure.parse("link:users-site@20+10", in: topology)]
        let jobs = [50.0, 120.0].map { TraceJob(id: "at\(Int($0))", arrivalS: $0, runtimeS: 1, cpuCores: 1) }
        var setup = SimulationSetup(topology: topology, jobs: jobs, policy: .joint, ingress: IngressWeights(uniformOver: ["users"]))
        setup.failures = failures
        var simulator = Simulator(setup)
        let report = simulator.run()
        #expect(report.completed == 2)
        let latency = simulator.jobRecords.map(\.pathLatencyMs)
        #expect(latency == [10, 1], "at 50 s the first failure still holds the link down; at 120 s it is back")
    }

    @Test func policiesBlindToTheNetworkBreakBudgetsTheJointOneKeeps() {
        let jobs = [TraceJob(id: "a", arrivalS: 0, runtimeS: 10, cpuCores: 8)]
        let joint = simulate(jobs) { $0.latencyBudgetMs = 10 }
        let blind = simulate(jobs, policy: .computeOnly) { $0.latencyBudgetMs = 10 }
        #expect(joint.budgetViolations == 0, "only the near pool is within 10 ms")
        #expect(blind.budgetViolations == 1, "best fit ties and takes far-fast, 40 ms away")
        let none = simulate(jobs, policy: .computeOnly) {
            $0.latencyBudgetMs = 10
            $0.budgetShare = 0
        }
        #expect(none.budgetJobs == 0)
    }

    @Test func allocationIsTimeWeighted() {
        // Until the last arrival at 50 s, a holds 4 of the 16 cores; b starts beside it at 50 s.
        let report = simulate([TraceJob(id: "a", arrivalS: 0, runtimeS: 100, cpuCores: 4), TraceJob(id: "b", arrivalS: 50, runtimeS: 100, cpuCores: 4)]) { $0.samples = 4 }
        #expect(abs(report.meanCPUAllocation - 0.25) < 1e-9)
        let series = report.utilisation.cpuAllocated
        #expect(abs(series[0] - 0.25) < 1e-9, "a alone: \(series)")
        #expect(series[1] > 0.25 && series[1] < 0.26 && series[2] > 0.25 && series[2] < 0.26, "a and b both held for the 40 ms a outlives b's arrival: \(series)")
        #expect(abs(series[3] - 0.25) < 1e-9, "the last quarter: b alone: \(series)")
        #expect(report.utilisation.timeS.count == 4)
        #expect(report.utilisation.cpuAllocated.allSatisfy { $0 >= 0 && $0 <= 1 })
        #expect(report.utilisation.cpuBusy.allSatisfy { $0 >= 0 && $0 <= 1 })
        #expect(report.completionPercentilesS.count == 101)
    }

    @Test func theUtilisationSeriesLosesNoTime() {
        // A long job holds 4 of the 16 cores throughout; short ones come and go at odd times.
        var jobs = [TraceJob(id: "long", arrivalS: 0, runtimeS: 10_000, cpuCores: 4)]
        jobs += (1...300).map { TraceJob(id: "short\($0)", arrivalS: Double($0) * 9.87, runtimeS: 13.3, cpuCores: 1) }
        let report = simulate(jobs) { $0.samples = 200 }
        let series = report.utilisation
        #expect(series.timeS.count == 200)
        #expect(series.timeS.last! < 5_000, "the series covers the busy period, not the long job's tail")
        #expect(series.cpuAllocated.allSatisfy { $0 >= 0.25 - 1e-9 }, "\(series.cpuAllocated.enumerated().filter { $0.element < 0.25 })")
    }

    @Test func jobsArePlannedOnTheFasterPoolAndShortOnesBackfill() {
        // The fast pool (speed 2, 40 ms away) runs a in 50 s. b does not fit beside a, and
        // waiting 50 s for the fast pool (done at 100 s) beats the slow pool now (done at 200 s):
        // it is planned there, and big after it. small fits in the 2 cores a leaves and ends
        // before b starts, so it backfills at once; long would delay b and big, so it goes after.
        let jobs = [
            TraceJob(id: "a", arrivalS: 0, runtimeS: 100, cpuCores: 6),
            TraceJob(id: "b", arrivalS: 0, runtimeS: 100, cpuCores: 6),
            TraceJob(id: "big", arrivalS: 1, runtimeS: 100, cpuCores: 8),
            TraceJob(id: "small", arrivalS: 2, runtimeS: 10, cpuCores: 1),
            TraceJob(id: "long", arrivalS: 3, runtimeS: 1_000, cpuCores: 2),
        ]
        var setup = SimulationSetup(topology: nearAndFar(), jobs: jobs, policy: .joint, ingress: IngressWeights(uniformOver: ["users"]))
        setup.samples = 10
        var simulator = Simulator(setup)
        let report = simulator.run()
        #expect(report.completed == 5)
        let records = Dictionary(uniqueKeysWithValues: simulator.jobRecords.map { ($0.id, $0) })
        let b = records["b"]!, big = records["big"]!, small = records["small"]!, long = records["long"]!
        #expect(b.pool == "far-fast" && b.startS == 50.04, "b starts when a ends: \(b)")
        #expect(big.pool == "far-fast" && big.startS == 100.08, "big starts when b ends: \(big)")
        #expect(small.pool == "far-fast" && small.startS == 2, "small backfills at once: \(small)")
        #expect(long.startS == big.endS, "long starts after big, which it would have delayed: \(long)")
        #expect(report.meanCompletionS < 300)
    }

    @Test func everyPolicySeesTheSameIngressesAndData() {
        var topology = nearAndFar()
        topology.nodes[1].region = "north"
        let jobs = (0..<50).map { TraceJob(id: "j\($0)", arrivalS: Double($0), runtimeS: 5, cpuCores: 1) }
        func run(_ policy: Policy) -> SimulationReport {
            simulate(jobs, on: topology, policy: policy) {
                $0.ingress = try! IngressWeights.parse(["users=1", "north=1"], in: topology)
                $0.dataSize = .uniform(1e9, 2e9)
            }
        }
        let first = run(.networkOnly)
        #expect(first.gigabyteKilometres == run(.networkOnly).gigabyteKilometres, "seeded")
        #expect(first.gigabyteKilometres > 0)
        #expect(first.gigabyteKilometres != run(.computeOnly).gigabyteKilometres, "the policies differ in where the data goes")
    }
}
