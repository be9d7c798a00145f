import Foundation
import Simulation
import Testing
import Topology

@Suite("Scenario options")
struct WorkloadTests {
    func regional() -> Topology {
        var topology = nearAndFar()
        topology.nodes[0].region = "east"
        topology.nodes[1].region = "east"
        topology.nodes[2].region = "west"
        return topology
    }

    @Test func ingressWeightsByNodeAndRegion() throws {
        let weights = try IngressWeights.parse(["east=3", "far"], in: regional())
        #expect(weights.nodes == ["users", "near", "far"])
        var generator = SeededGenerator(seed: 7)
        var counts: [String: Int] = [:]
        for _ in 0..<40_000 { counts[weights.draw(using: &generator), default: 0] += 1 }
        // east's 3 is shared by its two nodes: 1.5, 1.5 and 1 of 4.
        #expect(abs(Double(counts["far"]!) / 40_000 - 0.25) < 0.01)
        #expect(abs(Double(counts["users"]!) / 40_000 - 0.375) < 0.01)
    }

    @Test(arguments: ["north", "east=-1", "east=x", "east=0", "", "=3", "east="])
    func badIngressWeightsAreRefused(term: String) {
        #expect(throws: ScenarioError.self) { try IngressWeights.parse([term], in: regional()) }
    }

    @Test func dataSizesParseAndDraw() throws {
        #expect(try DataSize.parse("10") == .fixed(10e9))
        #expect(try DataSize.parse("uniform:1-3") == .uniform(1e9, 3e9))
        #expect(try DataSize.parse("exp:5") == .exponential(mean: 5e9))
        #expect(try DataSize.parse("lognormal:10,1.5") == .logNormal(median: 10e9, sigma: 1.5))
        for text in ["uniform:3-1", "exp:", "gamma:1", "lognormal:10", "-4", "", ":", "fixed:", "fixed:1e300", "uniform:1-1e300", "lognormal:10,50"] {
            #expect(throws: ScenarioError.self, "\(text)") { try DataSize.parse(text) }
        }
        var generator = SeededGenerator(seed: 3)
        let uniform = (0..<1_000).map { _ in DataSize.uniform(1e9, 3e9).draw(using: &generator) }
        #expect(uniform.allSatisfy { (1e9...3e9).contains($0) })
        let exponential = (0..<20_000).map { _ in DataSize.exponential(mean: 5e9).draw(using: &generator) }
        #expect(abs(exponential.reduce(0, +) / 20_000 - 5e9) < 0.15e9)
        let logNormal = (0..<20_000).map { _ in DataSize.logNormal(median: 10e9, sigma: 1).draw(using: &generator) }.sorted()
        #expect(abs(logNormal[10_000] - 10e9) < 0.6e9, "the median")
        // A tail is cut at the most a request can carry, rather than drawn as a number past it.
        let heavy = (0..<1_000).map { _ in DataSize.logNormal(median: 1e18, sigma: 10).draw(using: &generator) }
        #expect(heavy.allSatisfy { $0 <= DataSize.largestBytes } && heavy.contains(DataSize.largestBytes))
    }

    @Test func failuresNameAPoolOrALink() throws {
        let base = nearAndFar()
        var nodes = base.nodes
        nodes[2].id = "far-away"
        let topology = Topology(name: base.name, nodes: nodes, links: base.links, pools: base.pools)
        let pool = try Failure.parse("pool:far-fast@7200", in: topology)
        #expect(pool.target == .pool("far-fast") && pool.atS == 7_200 && pool.untilS == nil)
        let link = try Failure.parse("link:users-far-away@3600+600", in: topology)
        #expect(link.target == .link(1) && link.atS == 3_600 && link.untilS == 4_200, "node ids may hold dashes")
        #expect(try Failure.parse("link:far-away-users@1", in: topology).target == .link(1), "either direction")
        #expect(try Failure.parse("link:n@1", in: topology).target == .link(0), "by id")
        for text in ["pool:nowhere@1", "link:users-nowhere@1", "pool:far-fast", "pool:far-fast@-3", "pool:far-fast@5+0", "disk:x@1"] {
            #expect(throws: ScenarioError.self, "\(text)") { try Failure.parse(text, in: topology) }
        }
    }

    @Test func demandScalesTheJobCountAndKeepsArrivalTimes() {
        let jobs = (0..<100).map { TraceJob(id: "j\($0)", arrivalS: Double($0 * 10), runtimeS: 5) }
        let more = Workload.inflate(jobs, by: 2.5, seed: 1)
        #expect(more.count == 250)
        #expect(Set(more.map(\.id)).count == 250, "copies get their own ids")
        #expect(Set(more.map(\.arrivalS)).isSubset(of: Set(jobs.map(\.arrivalS))))
        #expect(more.map(\.arrivalS) == more.map(\.arrivalS).sorted())
        let fewer = Workload.inflate(jobs, by: 0.3, seed: 1)
        #expect(fewer.count == 30)
        #expect(Workload.inflate(jobs, by: 2.5, seed: 1) == more, "seeded")
    }

    @Test func machinesAreSharedOutByDeclaredGPUs() {
        var topology = nearAndFar()
        topology.pools[0].capacity = Resources(cpuCores: 8, gpus: ["A100": 30])
        topology.pools[1].capacity = Resources(cpuCores: 8, gpus: ["A100": 10])
        let machines = (0..<40).map { TraceNode(id: "m\($0)", cpuCores: 32, memoryBytes: 1 << 30, gpus: $0 < 20 ? 8 : 0, gpuModel: $0 < 20 ? "V100" : nil) }
        let spread = Workload.spread(machines, over: topology)
        #expect(spread.pools[0].capacity.cpuCores == 30 * 32)
        #expect(spread.pools[1].capacity.cpuCores == 10 * 32)
        #expect(spread.pools[0].capacity.gpus == ["V100": 15 * 8], "each pool gets its share of each kind")
        #expect(spread.pools[1].capacity.gpus == ["V100": 5 * 8])
    }
}
