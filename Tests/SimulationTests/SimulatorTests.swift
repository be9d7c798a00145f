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

@Suite("Simulator")
struct SimulatorTests {
    @Test func jobsQueueWhenNothingFitsAndRunWhenRoomFrees() {
        let jobs = (0..<3).map { TraceJob(id: "j\($0)", arrivalS: 0, runtimeS: 100, cpuCores: 8) }
        var simulator = Simulator(SimulationSetup(topology: nearAndFar(), jobs: jobs, policy: .joint, ingresses: ["users"]))
        let report = simulator.run()
        #expect(report.completed == 3)
        // Two run at once (one per pool, fast pool first); the third waits for the fast one.
        #expect(report.meanQueueS > 0)
        #expect(abs(report.p50CompletionS - 100) < 1, "the third job waits 50 s and runs 50 s on the fast pool")
        #expect(abs(report.simulatedSeconds - 200) < 1, "the slow pool takes 200 s")
    }

    @Test func jointPlacementBeatsNearestWhenComputeDominates() {
        let jobs = (0..<40).map { TraceJob(id: "j\($0)", arrivalS: Double($0) * 30, runtimeS: 120, cpuCores: 4) }
        func run(_ policy: Policy) -> SimulationReport {
            var simulator = Simulator(SimulationSetup(topology: nearAndFar(), jobs: jobs, policy: policy, ingresses: ["users"]))
            return simulator.run()
        }
        let joint = run(.joint)
        let nearest = run(.networkOnly)
        #expect(joint.completed == 40 && nearest.completed == 40)
        #expect(abs(joint.meanCompletionS - 60) < 0.1, "every job on the fast pool: 120 s / 2 + 40 ms")
        #expect(nearest.meanCompletionS > joint.meanCompletionS * 1.5, "nearest-first fills the slow pool")
        #expect(joint.policy == "junction" && nearest.policy == "network-only")
    }

    @Test func aJobThatFitsNowhereIsCountedNotWaitedFor() {
        let jobs = [TraceJob(id: "huge", arrivalS: 0, runtimeS: 10, cpuCores: 64), TraceJob(id: "ok", arrivalS: 1, runtimeS: 10, cpuCores: 1)]
        var simulator = Simulator(SimulationSetup(topology: nearAndFar(), jobs: jobs, policy: .joint, ingresses: ["users"]))
        let report = simulator.run()
        #expect(report.neverFit == 1)
        #expect(report.completed == 1)
    }

    @Test func dataMovesOverThePathAndCountsDistance() {
        let jobs = [TraceJob(id: "big-input", arrivalS: 0, runtimeS: 10, cpuCores: 1, dataBytes: 10e9)]
        var simulator = Simulator(SimulationSetup(topology: nearAndFar(), jobs: jobs, policy: .networkOnly, ingresses: ["users"]))
        let report = simulator.run()
        #expect(abs(report.meanTransferS - 8) < 1e-6, "10 GB at 10 Gbps")
        #expect(abs(report.gigabyteKilometres - 10 * 200) < 1e-6, "10 GB over 1 ms of fibre")
    }
}
