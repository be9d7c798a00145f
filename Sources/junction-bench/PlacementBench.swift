import ArgumentParser
import ClientCommands
import CommandLineSupport
import Dispatch
import Foundation
import Placement
import Routing
import Topology

/// `junction bench placement`: decisions per second, recomputation and memory at scale.
struct PlacementBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "placement",
        abstract: "Placement decisions/s and latency, route recomputation after a link change, and memory, on one core.",
        discussion: """
        Two networks: the shipped 197-node Cogent backbone with 1,000 generated pools, and a \
        generated 1,000-node, 3,000-link network with 10,000 pools. Requests are a seeded mix: \
        CPU jobs, GPU jobs naming models, no data, 1 GB and 100 GB inputs, some with a latency \
        budget or a bandwidth floor. Decisions are dry runs (nothing is reserved), without \
        explanations, as a submit's placement runs.
        """
    )

    @Option(help: "A 197-node topology file.")
    var topology = "Topologies/cogentco.yaml"

    @Option(help: "Decisions per network.")
    var decisions = 100_000

    @Option(help: "Seed for pools and requests.")
    var seed: UInt64 = 1

    @Flag(help: "Print the results as JSON.")
    var json = false

    struct Scenario: Codable {
        var network: String
        var nodes: Int
        var links: Int
        var pools: Int
        var decisions: Int
        var decisionsPerSecond: Double
        var p50Microseconds: Double
        var p99Microseconds: Double
        var placedFraction: Double
        var routeSearches: Int
    }

    struct Report: Codable {
        var scenarios: [Scenario]
        var recomputeIngresses: Int
        var recomputeMedianMs: Double
        var recomputeMaxMs: Double
        var residentMBBefore: Double
        var residentMBAfter: Double
    }

    func run() throws {
        let cogent = try loadTopology(topology, quiet: true).withSyntheticPools(1_000, seed: seed)
        progress("building the 1,000-node network")
        let before = residentMegabytes()
        let large = Topology.synthetic(nodes: 1_000, links: 3_000, seed: seed).withSyntheticPools(10_000, seed: seed + 1)
        var scenarios: [Scenario] = []
        progress("placing on \(cogent.name): \(cogent.nodes.count) nodes, \(cogent.pools.count) pools")
        scenarios.append(measure(cogent))
        progress("placing on \(cogent.name) loaded with running and planned jobs, with and without plans")
        scenarios += measureLoaded(cogent)
        progress("placing on \(large.name): \(large.nodes.count) nodes, \(large.links.count) links, \(large.pools.count) pools")
        var engine = PlacementEngine(topology: large, declaredLiveness: .up)
        scenarios.append(measure(large, engine: &engine))
        progress("recomputing routes after link changes")
        let (median, maximum) = recompute(&engine, ingresses: 50)
        let after = residentMegabytes()
        let report = Report(
            scenarios: scenarios, recomputeIngresses: 50, recomputeMedianMs: median, recomputeMaxMs: maximum,
            residentMBBefore: before, residentMBAfter: after
        )
        if json {
            print(try jsonText(report))
            return
        }
        let rows = scenarios.map {
            [$0.network, "\($0.nodes)", "\($0.links)", "\($0.pools)", String(format: "%.0f", $0.decisionsPerSecond), String(format: "%.1f", $0.p50Microseconds), String(format: "%.1f", $0.p99Microseconds), String(format: "%.0f%%", $0.placedFraction * 100)]
        }
        print(table(header: ["network", "nodes", "links", "pools", "decisions/s", "p50 µs", "p99 µs", "placed"], rows: rows))
        print(String(format: "route recomputation after a link change, %d ingresses, 1,000 nodes: median %.2f ms, max %.2f ms", 50, median, maximum))
        print(String(format: "resident memory: %.0f MB before building the 1,000-node engine, %.0f MB after (10,000 pools; routes cached for every ingress the requests used)", before, after))
    }

    private func progress(_ text: String) {
        if !json { printError(text) }
    }

    private func requests(for topology: Topology, count: Int) -> [PlacementRequest] {
        var rng = SeededGenerator(seed: seed &+ 7)
        let models = ["A100", "H100", "V100", "L40S"]
        return (0..<count).map { _ in
            var request = PlacementRequest(
                ingress: topology.nodes.randomElement(using: &rng)!.id,
                cpuCores: [1, 2, 4, 8, 16].randomElement(using: &rng)!,
                memoryBytes: UInt64([2, 8, 32].randomElement(using: &rng)!) << 30,
                dataBytes: [0, 1e9, 100e9].randomElement(using: &rng)!,
                runtimeS: Double(Int.random(in: 60...7_200, using: &rng)),
                alternatives: 2, explain: false
            )
            if Double.random(in: 0..<1, using: &rng) < 0.3 {
                request.gpuCount = [1, 2, 4].randomElement(using: &rng)!
                request.gpuModels = Array(models.shuffled(using: &rng).prefix(Int.random(in: 1...2, using: &rng)))
            }
            if Double.random(in: 0..<1, using: &rng) < 0.2 { request.maxLatencyMs = [10, 20, 40].randomElement(using: &rng)! }
            if Double.random(in: 0..<1, using: &rng) < 0.1 { request.minBandwidthGbps = [1, 5].randomElement(using: &rng)! }
            return request
        }
    }

    private func measure(_ topology: Topology) -> Scenario {
        var engine = PlacementEngine(topology: topology, declaredLiveness: .up)
        return measure(topology, engine: &engine)
    }

    /// The same decisions on the same busy engine, first choosing only among pools with room
    /// now, then with plans (a pool with no room may win a later start): what planning costs.
    /// The engine is loaded by holding or planning requests until as many are planned as held.
    private func measureLoaded(_ topology: Topology) -> [Scenario] {
        var engine = PlacementEngine(topology: topology, declaredLiveness: .up)
        var planned = 0
        var held = 0
        for var request in requests(for: topology, count: 200_000) {
            request.planHorizonS = 7 * 86_400
            guard let winner = (try? engine.place(request, now: 0))?.winner else { continue }
            if winner.estimate.startS > 0 {
                _ = engine.plan(winner, for: request, start: winner.estimate.startS)
                planned += 1
            } else if case .success = engine.hold(winner, for: request, now: 0, ttl: 1e9) {
                held += 1
            }
            if planned >= held, planned >= 1_000 { break }
        }
        progress("loaded: \(held) jobs holding pools, \(planned) planned")
        var withoutPlans = engine
        // A loaded decision costs a millisecond or two: fewer of them say as much.
        let count = min(decisions, 10_000)
        let now = measure(topology, engine: &withoutPlans, label: "\(topology.name), loaded, room now only", count: count)
        var withPlans = engine
        let later = measure(topology, engine: &withPlans, label: "\(topology.name), loaded, with plans", planHorizonS: 86_400, count: count)
        return [now, later]
    }

    private func measure(_ topology: Topology, engine: inout PlacementEngine, label: String? = nil, planHorizonS: Double = 0, count: Int? = nil) -> Scenario {
        let batch = requests(for: topology, count: count ?? decisions).map { request in
            var request = request
            request.planHorizonS = planHorizonS
            return request
        }
        // Warm the route caches the way a running controller has them warm.
        for request in batch.prefix(2_000) { _ = try? engine.place(request, now: 0) }
        var samples = [Double](repeating: 0, count: batch.count)
        var placed = 0
        let start = DispatchTime.now().uptimeNanoseconds
        for (index, request) in batch.enumerated() {
            let begin = DispatchTime.now().uptimeNanoseconds
            if let placement = try? engine.place(request, now: 0), placement.winner != nil { placed += 1 }
            samples[index] = Double(DispatchTime.now().uptimeNanoseconds - begin) / 1_000
        }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return Scenario(
            network: label ?? topology.name, nodes: topology.nodes.count, links: topology.links.count, pools: topology.pools.count,
            decisions: batch.count, decisionsPerSecond: Double(batch.count) / elapsed,
            p50Microseconds: percentile(samples, 0.5), p99Microseconds: percentile(samples, 0.99),
            placedFraction: Double(placed) / Double(batch.count), routeSearches: engine.routeSearches
        )
    }

    /// Brings the route searches of `ingresses` nodes up to date after each of 20 link changes.
    private func recompute(_ engine: inout PlacementEngine, ingresses: Int) -> (median: Double, max: Double) {
        let sources = Array(0..<min(ingresses, engine.topology.nodes.count))
        engine.refreshRoutes(from: sources)
        var times: [Double] = []
        var rng = SeededGenerator(seed: seed &+ 11)
        for _ in 0..<20 {
            let link = Int.random(in: 0..<engine.topology.links.count, using: &rng)
            engine.setLink(link, up: !engine.network.isUp[link])
            let start = DispatchTime.now().uptimeNanoseconds
            engine.refreshRoutes(from: sources)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        return (percentile(times, 0.5), times.max() ?? 0)
    }
}
