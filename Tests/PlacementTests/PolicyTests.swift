import Placement
import Routing
import Testing
import Topology

@Suite("One-sided policies")
struct PolicyTests {
    /// A near small pool, a far pool the job fills exactly, and a far big one.
    func network() -> Topology {
        let nodes = ["in", "near", "far"].map { Topology.Node(id: $0) }
        let links = [
            Topology.Link(id: "n", from: 0, to: 1, latencyMs: 1, capacityGbps: 10),
            Topology.Link(id: "f", from: 0, to: 2, latencyMs: 30, capacityGbps: 10),
        ]
        let pools = [
            Topology.Pool(id: "near-big", node: 1, capacity: Resources(cpuCores: 64)),
            Topology.Pool(id: "far-exact", node: 2, capacity: Resources(cpuCores: 8)),
            Topology.Pool(id: "far-big", node: 2, capacity: Resources(cpuCores: 128), speed: 4),
        ]
        return Topology(name: "policies", nodes: nodes, links: links, pools: pools)
    }

    func winner(_ policy: Policy, runtime: Double = 3_600) throws -> String? {
        var engine = PlacementEngine(topology: network(), declaredLiveness: .up)
        var request = PlacementRequest(ingress: "in", cpuCores: 8, runtimeS: runtime, explain: false)
        request.policy = policy
        return try engine.place(request, now: 0).winner?.pool
    }

    @Test func eachPolicyChoosesByItsOwnMeasure() throws {
        #expect(try winner(.joint) == "far-big", "4 × faster beats 30 ms")
        #expect(try winner(.networkOnly) == "near-big", "nearest with room")
        #expect(try winner(.computeOnly) == "far-exact", "the tightest fit")
    }

    @Test func randomIsReproducibleAndSpreads() throws {
        let first = try (0..<20).map { try winner(.random(seed: UInt64($0))) }
        let again = try (0..<20).map { try winner(.random(seed: UInt64($0))) }
        #expect(first == again)
        #expect(Set(first.compactMap { $0 }).count == 3, "every pool with room gets chosen by some seed")
    }

    @Test(arguments: 0..<40)
    func noPolicyChoosesAPoolThatCannotTakeTheRequest(seed: Int) throws {
        var rng = SeededGenerator(seed: UInt64(9_000 + seed))
        let topology = randomTopology(nodes: 6, links: 9, pools: 5, using: &rng)
        var engine = PlacementEngine(topology: topology, declaredLiveness: .up)
        let state = engine.network
        for policy in [Policy.joint, .computeOnly, .networkOnly, .random(seed: UInt64(seed))] {
            var request = PlacementRequest(
                ingress: topology.nodes[Int.random(in: 0..<6, using: &rng)].id,
                cpuCores: Double(Int.random(in: 1...40, using: &rng)),
                minBandwidthGbps: [0, 2.5].randomElement(using: &rng)!,
                maxLatencyMs: [nil, 20].randomElement(using: &rng)!, explain: false
            )
            request.policy = policy
            let placement = try engine.place(request, now: 0)
            let ingress = topology.node(request.ingress)!
            let feasible = Set(topology.pools.filter { pool in
                pool.capacity.cpuCores >= request.cpuCores && simplePaths(state, from: ingress, to: pool.node).contains { slots in
                    let (latency, bottleneck) = metrics(state, slots)
                    return (request.minBandwidthGbps == 0 || bottleneck >= request.minBandwidthGbps)
                        && latency + pool.processingLatencyMs <= (request.maxLatencyMs ?? .infinity)
                }
            }.map(\.id))
            if let winner = placement.winner {
                #expect(feasible.contains(winner.pool), "seed \(seed) \(policy): \(winner.pool) cannot take it")
            } else {
                #expect(feasible.isEmpty, "seed \(seed) \(policy): \(feasible) could")
            }
        }
    }
}
