import ArgumentParser
import Foundation
import Placement
import Simulation
import Topology

/// `junction simulate`: what-if runs of a workload trace over a network, per policy.
struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Replay a workload trace over a topology and compare placement policies.",
        discussion: """
        The simulation drives the controller core itself on a virtual clock: the topology's pools \
        register, jobs are submitted at their arrival, dispatches start them, and their ends free \
        their pool and path. Jobs that fit nowhere wait, first come first served. Policies: junction \
        (joint), compute-only (best fit ignoring the network), network-only (nearest pool with \
        room), random.
        """
    )

    enum PolicyName: String, ExpressibleByArgument, CaseIterable {
        case all, junction, computeOnly = "compute-only", networkOnly = "network-only", random
    }

    @Option(help: "The topology file; its declared pools are the capacity.")
    var topology: String

    @Option(help: "The workload trace.")
    var trace: String

    @Option(help: "The trace's format: openb, philly, swf or csv.")
    var format: String

    @Option(help: "Policy to run: all, junction, compute-only, network-only or random.")
    var policy: PolicyName = .all

    @Option(help: "Divide arrival times by this: 2 doubles the load.")
    var timeScale: Double = 1

    @Option(help: "Input data per job when the trace gives none, in GB.")
    var dataGb: Double = 0

    @Option(name: .customLong("ingress"), help: ArgumentHelp("Nodes where jobs enter (default: every node). Repeatable.", valueName: "node"))
    var ingresses: [String] = []

    @Flag(help: "Ignore the trace's GPU model constraints (when the network's models differ).")
    var ignoreGpuModels = false

    @Option(help: "Simulate only the first N jobs.")
    var limit: Int?

    @Option(help: "Seed for ingress choice and the random policy.")
    var seed: UInt64 = 1

    @Flag(help: "Print the reports as JSON.")
    var json = false

    func run() throws {
        guard let traceFormat = TraceFormat(rawValue: format) else {
            throw ValidationError("--format takes \(TraceFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard timeScale > 0, dataGb >= 0 else { throw ValidationError("--time-scale must be above 0 and --data-gb at least 0") }
        let network = try loadTopology(topology, quiet: json)
        guard !network.pools.isEmpty else { throw CommandFailure("\(topology) declares no pools to simulate on") }
        let text: String
        if trace.hasSuffix(".gz") {
            throw CommandFailure("decompress \(trace) first (gunzip -k)")
        } else {
            text = try String(contentsOfFile: trace, encoding: .utf8)
        }
        var report: TraceReport
        do {
            report = try traceFormat.read(text)
        } catch {
            throw CommandFailure("\(trace): \(error)")
        }
        if let limit { report.jobs = Array(report.jobs.prefix(limit)) }
        if let first = report.jobs.first?.arrivalS {
            for index in report.jobs.indices { report.jobs[index].arrivalS -= first }
        }
        let entries = ingresses.isEmpty ? network.nodes.map(\.id) : ingresses
        for node in entries where network.node(node) == nil { throw ValidationError("--ingress \(node) is not a node of \(network.name)") }
        if !json { printError("\(trace): \(report.notes.joined(separator: ", ")); simulating \(report.jobs.count) jobs on \(network.pools.count) pools") }

        let policies: [Policy] = switch policy {
        case .all: [.joint, .computeOnly, .networkOnly, .random(seed: seed)]
        case .junction: [.joint]
        case .computeOnly: [.computeOnly]
        case .networkOnly: [.networkOnly]
        case .random: [.random(seed: seed)]
        }
        var reports: [SimulationReport] = []
        for choice in policies {
            var simulator = Simulator(SimulationSetup(
                topology: network, jobs: report.jobs, policy: choice, ingresses: entries,
                defaultDataBytes: dataGb * 1e9, timeScale: timeScale, useGPUModels: !ignoreGpuModels, seed: seed
            ))
            let started = Date()
            let result = simulator.run { done in
                if !json { printError(String(format: "  %@ %3.0f%%", "\(choice)", done * 100)) }
            }
            if !json { printError(String(format: "  %@ done in %.1f s (%d events)", result.policy, Date().timeIntervalSince(started), result.events)) }
            reports.append(result)
        }
        if json {
            print(try jsonText(reports))
            return
        }
        print(table(header: ["policy", "done", "never fit", "mean s", "p50 s", "p95 s", "p99 s", "queue s", "transfer s", "GB·km"], rows: reports.map {
            [$0.policy, "\($0.completed)/\($0.jobs)", "\($0.neverFit)", decimal($0.meanCompletionS), decimal($0.p50CompletionS), decimal($0.p95CompletionS), decimal($0.p99CompletionS), decimal($0.meanQueueS), decimal($0.meanTransferS), decimal($0.gigabyteKilometres)]
        }))
        if let joint = reports.first(where: { $0.policy == "junction" }),
           let best = reports.filter({ $0.policy == "compute-only" || $0.policy == "network-only" }).min(by: { $0.meanCompletionS < $1.meanCompletionS }),
           best.meanCompletionS > 0 {
            print(String(format: "junction's mean completion is %.0f%% lower than the best one-sided policy (%@)", (1 - joint.meanCompletionS / best.meanCompletionS) * 100, best.policy))
        }
    }
}
