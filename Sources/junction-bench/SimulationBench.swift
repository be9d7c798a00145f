import ArgumentParser
import ClientCommands
import CommandLineSupport
import Foundation
import Placement
import Simulation
import Topology

/// `junction bench simulate`: how fast the simulator drives the controller core.
struct SimulationBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Simulated events per second through the controller core, per policy.",
        discussion: """
        A generated workload over the 197-node Cogent backbone with 200 generated pools: Poisson \
        arrivals offering about 80 % of the GPUs, 30 % GPU jobs of 1 to 8 GPUs, log-normal \
        runtimes (median 10 min), inputs of 0 to 20 GB moved at 1 Gbps reserved. Every event \
        (arrival, input arrived, finish) goes through the same controller core the daemon runs.
        """
    )

    @Option(help: "A topology file.")
    var topology = "Topologies/cogentco.yaml"

    @Option(help: "Jobs to simulate.")
    var jobs = 50_000

    @Option(help: "Generated pools.")
    var pools = 200

    @Option(help: "Seed for pools and jobs.")
    var seed: UInt64 = 1

    @Flag(help: "Print the results as JSON.")
    var json = false

    struct Row: Codable {
        var policy: String
        var jobs: Int
        var events: Int
        var seconds: Double
        var eventsPerSecond: Double
        var meanQueueS: Double
        var meanGPUAllocation: Double
    }

    func validate() throws {
        guard jobs >= 100, pools >= 1 else { throw ValidationError("--jobs must be at least 100 and --pools at least 1") }
    }

    /// The generated workload; its arrival rate offers about 80 % of the network's GPUs.
    static func workload(jobs count: Int, gpus: Int, seed: UInt64) -> [TraceJob] {
        var generator = SeededGenerator(seed: seed)
        // 0.3 × mean(1, 2, 4, 8) GPUs per job for a mean runtime of 600 s × e^0.5.
        let gpuSecondsPerJob = 0.3 * 3.75 * 600 * exp(0.5)
        let rate = 0.8 * Double(max(gpus, 1)) / gpuSecondsPerJob
        var clock = 0.0
        return (0..<count).map { index in
            clock += -log(1 - Double.random(in: 0..<1, using: &generator)) / rate
            let gpu = Double.random(in: 0..<1, using: &generator) < 0.3
            let u = 1 - Double.random(in: 0..<1, using: &generator)
            let v = Double.random(in: 0..<1, using: &generator)
            let runtime = 600 * exp(sqrt(-2 * log(u)) * cos(2 * .pi * v))
            return TraceJob(
                id: "job-\(index)", arrivalS: clock, runtimeS: runtime,
                cpuCores: [1.0, 2, 4, 8, 16].randomElement(using: &generator)!,
                memoryBytes: UInt64([4, 8, 16, 32].randomElement(using: &generator)!) << 30,
                gpuCount: gpu ? [1, 2, 4, 8].randomElement(using: &generator)! : 0,
                dataBytes: Double.random(in: 0...20e9, using: &generator)
            )
        }
    }

    func run() throws {
        let network = try loadTopology(topology, quiet: true).withSyntheticPools(pools, seed: seed)
        let gpus = network.pools.reduce(0) { $0 + $1.capacity.gpuCount }
        let workload = Self.workload(jobs: jobs, gpus: gpus, seed: seed)
        var rows: [Row] = []
        for policy in [Policy.joint, .computeOnly, .networkOnly] {
            var setup = SimulationSetup(topology: network, jobs: workload, policy: policy, ingress: IngressWeights(uniformOver: network.nodes.map(\.id)))
            setup.seed = seed
            var simulator = Simulator(setup)
            var bar = ProgressBar(policy.name, quiet: json)
            let started = DispatchTime.now().uptimeNanoseconds
            let report = simulator.run { bar.update($0) }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            bar.finish("\(report.events) events")
            rows.append(Row(
                policy: policy.name, jobs: report.jobs, events: report.events, seconds: seconds,
                eventsPerSecond: Double(report.events) / seconds, meanQueueS: report.meanQueueS, meanGPUAllocation: report.meanGPUAllocation
            ))
        }
        if json {
            print(try jsonText(rows))
            return
        }
        print("\(network.name): \(network.nodes.count) nodes, \(network.links.count) links, \(network.pools.count) pools (\(gpus) GPUs); \(jobs) jobs")
        print(table(header: ["policy", "events", "wall s", "events/s", "mean queue s", "GPU alloc"], rows: rows.map {
            [$0.policy, "\($0.events)", String(format: "%.2f", $0.seconds), String(format: "%.0f", $0.eventsPerSecond), decimal($0.meanQueueS), String(format: "%.1f%%", $0.meanGPUAllocation * 100)]
        }))
    }
}
