import Foundation
import FoundationXML
import Placement
import Simulation
import Testing
import Topology

@Suite("Allocation replay and charts")
struct AllocationReplayTests {
    let machines = [
        TraceNode(id: "m0", cpuCores: 16, memoryBytes: 64 << 30, gpus: 2, gpuModel: "A"),
        TraceNode(id: "m1", cpuCores: 16, memoryBytes: 64 << 30, gpus: 2, gpuModel: "A"),
    ]

    @Test func wholeGPUPodsFillTheClusterExactly() {
        let pods = [TraceJob(id: "p", arrivalS: 0, runtimeS: 60, cpuCores: 1, gpuCount: 1)]
        var replay = AllocationReplay(nodes: machines, pods: pods, policy: .joint)
        replay.maximumPercent = 150
        let curve = replay.run()
        #expect(curve.allocatedPercent.count == 151)
        #expect(curve.allocatedPercent[0] == 0)
        #expect(curve.allocatedPercent[25] == 25 && curve.allocatedPercent[100] == 100)
        #expect(curve.allocatedPercent[150] == 100, "a full cluster drops the rest")
        #expect(curve.placed == 4 && curve.dropped == 2)
    }

    @Test func podsAskingForPartOfAGPUShareGPUs() {
        let pods = [
            TraceJob(id: "three-quarters", arrivalS: 0, runtimeS: 60, cpuCores: 1, gpuCount: 1, gpuShare: 0.75),
            TraceJob(id: "quarter", arrivalS: 0, runtimeS: 60, cpuCores: 1, gpuCount: 1, gpuShare: 0.25),
        ]
        var replay = AllocationReplay(nodes: machines, pods: pods, policy: .computeOnly)
        replay.maximumPercent = 100
        let curve = replay.run()
        // In seed 42's order best fit pairs three-quarter pods with quarter pods: all four GPUs end up full.
        #expect(curve.allocatedPercent.last! == 100, "\(curve)")
        #expect(curve.heldPercent.last! == 100)
        #expect(curve.dropped == 0)
        #expect(zip(curve.allocatedPercent, curve.allocatedPercent.dropFirst()).allSatisfy { $0 <= $1 })
        #expect(zip(curve.allocatedPercent, curve.heldPercent).allSatisfy { $0 <= $1 + 1e-9 }, "a shared GPU is held whole")
    }

    @Test func aPodNoMachineFitsIsDropped() {
        let pods = [TraceJob(id: "three", arrivalS: 0, runtimeS: 60, cpuCores: 1, gpuCount: 3)]
        let curve = AllocationReplay(nodes: machines, pods: pods, policy: .joint).run()
        #expect(curve.placed == 0 && curve.dropped == 2)
        #expect(curve.allocatedPercent.allSatisfy { $0 == 0 })
    }

    @Test func theArrivalOrderIsSeeded() {
        let pods = (0..<20).map { TraceJob(id: "p\($0)", arrivalS: 0, runtimeS: 60, cpuCores: 1, gpuCount: 1 + $0 % 2) }
        var replay = AllocationReplay(nodes: machines, pods: pods, policy: .random(seed: 1))
        replay.seed = 5
        #expect(replay.arrivals == replay.arrivals)
        replay.seed = 6
        let other = replay.arrivals
        replay.seed = 5
        #expect(replay.arrivals.map { $0.id } != other.map { $0.id })
        #expect(replay.arrivals.reduce(0) { $0 + $1.gpuCount } >= Int(4 * 1.3))
    }

    @Test func publishedCurvesAverageTheirSeeds() throws {
        let text = """
        workload,sc_policy,tune,seed,total_gpus,0,1,2
        w,06-FGD,1.3,42,4,0,10,20
        w,06-FGD,1.3,43,4,0,20,30
        v,01-Random,1.3,42,4,0,5,5
        """
        let curves = try PublishedCurves(csv: text)
        #expect(curves.workloads == ["v", "w"])
        let fgd = try #require(curves.curves.first { $0.policy == "06-FGD" })
        #expect(fgd.seeds == 2 && fgd.percent == [0, 15, 25])
        #expect(throws: TraceError.self) { try PublishedCurves(csv: "workload,sc_policy,0\nw,x,oops\n") }
    }

    @Test func chartsAreWellFormedSVG() throws {
        let chart = LineChart(title: "a < b & c", xLabel: "x", yLabel: "y", lines: [
            LineChart.Line(name: "one", points: [(1, 1), (10, 5), (1_000, 9)]),
            LineChart.Line(name: "two <dashed>", points: [(2, 3), (20, 4)], dashed: true),
        ], logarithmicX: true)
        let svg = chart.svg()
        let parser = XMLParser(data: Data(svg.utf8))
        #expect(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
        #expect(svg.components(separatedBy: "<polyline").count == 3)
        #expect(svg.contains("two &lt;dashed&gt;") && svg.contains("stroke-dasharray"))
        #expect(svg.contains(">1k<"), "log ticks read as powers of ten")
    }
}
