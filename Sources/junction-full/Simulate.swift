import ArgumentParser
import ClientCommands
import CommandLineSupport
import Foundation
import Placement
import Simulation
import Topology

/// `junction simulate`: what-if runs of workloads over networks and clusters.
struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Replay workload traces and compare placement policies.",
        subcommands: [SimulateTrace.self, SimulateAllocation.self],
        defaultSubcommand: SimulateTrace.self
    )
}

extension TraceFormat: ExpressibleByArgument {}

/// The policies a simulation can compare.
enum PolicyChoice: String, ExpressibleByArgument, CaseIterable {
    case all, junction, computeOnly = "compute-only", networkOnly = "network-only", random

    func policies(seed: UInt64) -> [Policy] {
        switch self {
        case .all: [.joint, .computeOnly, .networkOnly, .random(seed: seed)]
        case .junction: [.joint]
        case .computeOnly: [.computeOnly]
        case .networkOnly: [.networkOnly]
        case .random: [.random(seed: seed)]
        }
    }
}

/// A trace file's text; see `TraceFiles.readText`.
func readTraceText(_ path: String) throws -> String {
    do { return try TraceFiles.readText(path) } catch { throw traceFailure(error) }
}

/// A trace file parsed, a parse error naming the file.
func readTrace<Value>(_ path: String, _ parse: (String) throws(TraceError) -> Value) throws -> Value {
    do { return try TraceFiles.read(path, parse) } catch { throw traceFailure(error) }
}

/// The traces are published data a fresh clone lacks: a missing one says where to get them.
private func traceFailure(_ error: TraceFileError) -> CommandFailure {
    CommandFailure(error.description + (error.missing ? " (the traces are not shipped: the README's \"What-if simulations\" section says where to get each)" : ""))
}

/// Writes a report file, creating its folder.
func writeFile(_ path: String, _ text: String) throws {
    do { try TraceFiles.write(path, text) } catch { throw CommandFailure(error.description) }
}

/// `junction simulate trace`: a trace over a topology, per policy.
struct SimulateTrace: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Replay a workload trace over a topology and compare placement policies.",
        discussion: """
        The simulation drives the controller core itself on a virtual clock: the topology's pools \
        register, jobs are submitted at their arrival, a dispatch moves the job's input over its \
        leased path (holding --transfer-gbps on every link while it moves), then the job runs and \
        its end frees pool and path. A job with no room now is planned by the controller on a pool \
        to start when its plan frees room there (conservative backfill: a job starts before one \
        planned earlier only if it delays none); planned jobs move when a failure or an early end \
        opens a better place, at most --max-plan-moves times. Failures reach the controller as a \
        pool leaving or a link going down, so its jobs are placed again or re-routed. Every policy \
        plans: junction (joint) chooses pool, path and start for the earliest completion; \
        compute-only the earliest end by compute alone (planned start, queue, runtime on the pool's \
        speed), ties by packing (the least growth of GPU fragmentation, then the tightest fit); \
        network-only the nearest pool among those that start it soonest; \
        random any of those. Compute-only and random are not told latency budgets, and the report \
        counts the jobs whose path broke them.

        Several --time-scale or --demand values, or --seeds above 1, make a sweep: every policy \
        runs at each arrival rate and demand with each seed, and the summary gives for each the \
        offered load (what the jobs \
        would hold of the busiest resource, each run from its arrival at speed 1, over its capacity, \
        between the times 5 % and 95 % of them have arrived), each policy's mean \
        completion over the seeds and junction's gain against the best one-sided policy, with \
        --plots drawing the gain against load.

        Trace formats: openb (Alibaba GPU v2023 pod list), philly (Microsoft Philly CSV), swf \
        (Standard Workload Format), csv (id,arrival_s,runtime_s,cpu_cores,memory_gib,gpus,\
        gpu_models,data_gb,ingress with gpu_models separated by |). The traces are published \
        data, not shipped with Junction: the README's "What-if simulations" section says where to get each.

        Examples:
          junction simulate --topology Topologies/geant2012.yaml --trace philly_trace.csv --format philly --time-scale 0.3 --plots out/
          junction simulate --topology Topologies/geant2012.yaml --trace philly_trace.csv --format philly --time-scale 0.4 0.5 0.6 --seeds 3 --plots out/
          junction simulate --topology Topologies/chinanet-edwc.yaml --trace openb_pod_list_default.csv --format openb \\
            --pool-capacity openb_node_list_all_node.csv --ingress east=3 --ingress west=1 --fail pool:qingyang@86400+43200
        """
    )

    @Option(help: "The topology file; its declared pools are the capacity.")
    var topology: String

    @Option(help: "The workload trace; .gz, .xz and .zst files are decompressed on the way in.")
    var trace: String

    @Option(help: "The trace's format: openb, philly, swf or csv.")
    var format: TraceFormat

    @Option(help: "Policy to run: all, junction, compute-only, network-only or random.")
    var policy: PolicyChoice = .all

    @Option(parsing: .upToNextOption, help: "Divide arrival times by this: 2 doubles the arrival rate. Several values (--time-scale 0.4 0.5 0.6) sweep the load.")
    var timeScale: [Double] = [1]

    @Option(parsing: .upToNextOption, help: "Scale the number of jobs: 1.5 adds half as many again, drawn from the trace and arriving at its times. Several values sweep the load.")
    var demand: [Double] = [1]

    @Option(help: ArgumentHelp("Input data per job when the trace gives none, in GB: a size or fixed:N, uniform:A-B, exp:MEAN, lognormal:MEDIAN,SIGMA.", valueName: "size"))
    var data = "0"

    @Option(help: "Bandwidth each transfer reserves on its path while its input moves, in Gbps (0: reserve none, move at the free bandwidth).")
    var transferGbps: Double = 1

    @Option(name: .customLong("ingress"), help: ArgumentHelp("A node or region where jobs enter, with an optional weight (name=weight). Repeatable; default every node equally.", valueName: "name[=weight]"))
    var ingresses: [String] = []

    @Option(help: "A latency budget in ms, ingress to pool, for --budget-share of the jobs.")
    var latencyBudgetMs: Double?

    @Option(help: "The share of jobs with the latency budget, 0 to 1.")
    var budgetShare: Double = 1

    @Option(name: .customLong("fail"), help: ArgumentHelp("A failure: pool:ID@SECONDS or link:A-B@SECONDS, with +DURATION to recover. Repeatable.", valueName: "failure"))
    var failures: [String] = []

    @Option(help: "How many times a planned job may move to another pool for an earlier completion.")
    var maxPlanMoves: UInt32 = 3

    @Option(help: "An openb node list whose machines replace the pools' capacity, shared out by their declared GPUs.")
    var poolCapacity: String?

    @Flag(help: "Ignore the trace's GPU model constraints (when the network's models differ).")
    var ignoreGpuModels = false

    @Option(help: "Simulate only the first N jobs.")
    var limit: Int?

    @Option(help: "Seed for ingresses, data sizes, budgets, demand scaling and the random policy.")
    var seed: UInt64 = 1

    @Option(help: "Runs per time scale and demand, with seeds counting up from --seed; more than one run makes a sweep.")
    var seeds = 1

    @Option(help: "Write the reports to this file: .json (everything, with the utilisation series; a sweep's runs each with their time scale, demand and seed) or .csv (one row per policy and run).")
    var output: String?

    @Option(help: "Write completion-cdf.svg and utilisation.svg into this folder; for a sweep, gain-vs-load.svg.")
    var plots: String?

    @Option(help: "Write every job's course to this CSV file: policy, job, ingress, times, pool, transfer, placements. One run only.")
    var jobsOutput: String?

    @Flag(help: "Print the reports as JSON instead of the table.")
    var json = false

    func validate() throws {
        // Bounded above too: a demand becomes a count of jobs, and the others durations and rates.
        let limits = PlacementEngine.limits
        try checkRanges(timeScale.map { ("--time-scale", $0, .leastNonzeroMagnitude, 1e6) } + demand.map { ("--demand", $0, .leastNonzeroMagnitude, 1_000) }
            + [("--transfer-gbps", transferGbps, 0, limits.bandwidthGbps), ("--latency-budget-ms", latencyBudgetMs, .leastNonzeroMagnitude, limits.latencyMs)])
        guard (1...1_000).contains(seeds) else { throw ValidationError("--seeds must be 1 to 1000, not \(seeds)") }
        if sweeping, jobsOutput != nil { throw ValidationError("--jobs-output takes one run: give one --time-scale, one --demand and --seeds 1") }
        guard (0...1).contains(budgetShare) else { throw ValidationError("--budget-share must be between 0 and 1") }
        if let limit { guard limit > 0 else { throw ValidationError("--limit must be above 0") } }
        if let output { guard output.hasSuffix(".json") || output.hasSuffix(".csv") else { throw ValidationError("--output must end in .json or .csv") } }
        if let jobsOutput { guard jobsOutput.hasSuffix(".csv") else { throw ValidationError("--jobs-output must end in .csv") } }
    }

    func run() throws {
        var network = try loadTopology(topology, quiet: json)
        guard !network.pools.isEmpty else { throw CommandFailure("\(topology) declares no pools to simulate on") }
        let dataSize: DataSize
        let entries: IngressWeights
        let scheduled: [Failure]
        do {
            dataSize = try DataSize.parse(data)
            entries = ingresses.isEmpty ? IngressWeights(uniformOver: network.nodes.map(\.id)) : try IngressWeights.parse(ingresses, in: network)
            scheduled = try failures.map { text throws(ScenarioError) in try Failure.parse(text, in: network) }
        } catch {
            throw ValidationError(error.description)
        }
        if let poolCapacity {
            let machines = try readTrace(poolCapacity, TraceReader.openbNodes)
            network = Workload.spread(machines, over: network)
            if !json { printError("\(poolCapacity): \(machines.count) machines shared out over \(network.pools.count) pools") }
        }
        var report = try readTrace(trace, format.read)
        if let limit { report.jobs = Array(report.jobs.prefix(limit)) }
        let strangers = Set(report.jobs.compactMap(\.ingress)).filter { network.node($0) == nil }.sorted()
        if !strangers.isEmpty {
            throw CommandFailure("\(trace) names ingresses that are not nodes of \(network.name): \(strangers.prefix(5).joined(separator: ", "))\(strangers.count > 5 ? ", and \(strangers.count - 5) more" : "")")
        }
        if let first = report.jobs.first?.arrivalS {
            for index in report.jobs.indices { report.jobs[index].arrivalS -= first }
        }
        if !json {
            var notes = report.notes
            if demand != [1] { notes.append("demand × " + demand.map { "\(decimal($0)): \(Workload.inflate(report.jobs, by: $0, seed: seed).count) jobs" }.joined(separator: ", ")) }
            printError("\(trace): \(notes.joined(separator: ", ")); simulating on \(network.pools.count) pools of \(network.name)")
        }

        var runs: [SweepRun] = []
        var jobLines = ["policy,job,ingress,data_gb,arrival_s,start_s,end_s,pool,transfer_s,path_latency_ms,placements,budget_broken"]
        for (scale, jobScale) in timeScale.flatMap({ scale in demand.map { (scale, $0) } }) {
            for offset in 0..<UInt64(seeds) {
                let runSeed = seed &+ offset
                if sweeping, !json { printError("time scale \(decimal(scale))\(demand.count > 1 ? ", demand \(decimal(jobScale))" : ""), seed \(runSeed):") }
                let jobs = Workload.inflate(report.jobs, by: jobScale, seed: runSeed)
                var reports: [SimulationReport] = []
                for choice in policy.policies(seed: runSeed) {
                    var setup = SimulationSetup(topology: network, jobs: jobs, policy: choice, ingress: entries)
                    setup.dataSize = dataSize
                    setup.transferGbps = transferGbps
                    setup.timeScale = scale
                    setup.useGPUModels = !ignoreGpuModels
                    setup.latencyBudgetMs = latencyBudgetMs
                    setup.budgetShare = budgetShare
                    setup.failures = scheduled
                    setup.maxPlanMoves = maxPlanMoves
                    setup.seed = runSeed
                    var simulator = Simulator(setup)
                    var bar = ProgressBar(choice.name, quiet: json)
                    let started = Date()
                    let result = simulator.run { bar.update($0) }
                    let seconds = Date().timeIntervalSince(started)
                    bar.finish(String(format: "%d events, %.0f events/s,", result.events, Double(result.events) / max(seconds, 1e-9)))
                    reports.append(result)
                    if jobsOutput != nil {
                        func field(_ value: Double?) -> String { value.map { "\($0)" } ?? "" }
                        for job in simulator.jobRecords {
                            jobLines.append([choice.name, csvField(job.id), csvField(job.ingress), "\(job.dataBytes / 1e9)", "\(job.arrivalS)", field(job.startS), field(job.endS),
                                             csvField(job.pool ?? ""), "\(job.transferS)", "\(job.pathLatencyMs)", "\(job.placements)", job.budgetBroken ? "true" : "false"].joined(separator: ","))
                        }
                    }
                }
                runs.append(SweepRun(timeScale: scale, demand: jobScale, seed: runSeed, reports: reports))
            }
        }
        if let jobsOutput {
            try writeFile(jobsOutput, jobLines.joined(separator: "\n") + "\n")
            if !json { printError("jobs: \(jobsOutput)") }
        }
        if let output {
            let text = output.hasSuffix(".csv") ? csvText(runs) : (sweeping ? try jsonText(runs) : try jsonText(runs[0].reports))
            try writeFile(output, text)
            if !json { printError("report: \(output)") }
        }
        if let plots {
            if sweeping {
                try writeFile(plots + "/gain-vs-load.svg", runs.gainChart.svg())
                if !json { printError("plot: \(plots)/gain-vs-load.svg") }
            } else {
                try writeFile(plots + "/completion-cdf.svg", runs[0].reports.completionChart.svg())
                try writeFile(plots + "/utilisation.svg", runs[0].reports.utilisationChart.svg())
                if !json { printError("plots: \(plots)/completion-cdf.svg, \(plots)/utilisation.svg") }
            }
        }
        if json {
            print(sweeping ? try jsonText(runs) : try jsonText(runs[0].reports))
        } else if sweeping {
            printSweep(runs)
        } else {
            printReports(runs[0].reports)
        }
    }

    /// Whether more than one run is asked for: several time scales, demands or seeds.
    private var sweeping: Bool { timeScale.count > 1 || demand.count > 1 || seeds > 1 }

    private func printReports(_ reports: [SimulationReport]) {
        print(table(header: ["policy", "done", "never fit", "failed", "waiting", "mean s", "p50 s", "p95 s", "p99 s", "queue s", "transfer s", "budget missed", "re-placed", "GPU alloc", "CPU alloc", "GB·km"], rows: reports.map {
            [$0.policy, "\($0.completed)/\($0.jobs)", "\($0.neverFit)", "\($0.failed)", "\($0.stillWaiting)", decimal($0.meanCompletionS), decimal($0.p50CompletionS), decimal($0.p95CompletionS), decimal($0.p99CompletionS),
             decimal($0.meanQueueS), decimal($0.meanTransferS), $0.budgetJobs > 0 ? "\($0.budgetViolations)/\($0.budgetJobs)" : "-",
             "\($0.replacements)", percent($0.meanGPUAllocation), percent($0.meanCPUAllocation), decimal($0.gigabyteKilometres)]
        }))
        if let first = reports.first {
            print(String(format: "offered load (what jobs would hold, each run from its arrival at speed 1, over capacity, from 5 %% to 95 %% of arrivals): GPUs %.2f, cores %.2f", first.offeredGPULoad, first.offeredCPULoad))
        }
        let run = SweepRun(timeScale: timeScale[0], demand: demand[0], seed: seed, reports: reports)
        if let best = run.bestOneSided, let change = run.gain(against: best.policy) {
            print(String(format: "junction's mean completion is %.0f%% %@ than the best one-sided policy (%@)", abs(change), change >= 0 ? "lower" : "higher", best.policy))
        }
    }

    /// A sweep: per time scale and demand, the offered load, each policy's mean completion over the seeds,
    /// and the joint policy's gain against the best one-sided policy (its range over the seeds).
    private func printSweep(_ runs: [SweepRun]) {
        let points = runs.points
        let policies = points.first?.meanCompletionS.map(\.policy) ?? []
        let header = ["time scale", "demand", "offered load"] + policies.map { "\($0) mean s" } + ["junction vs best one-sided"]
        print(table(header: header, rows: points.map { point in
            var gain = "-"
            if let low = point.gains.min(), let high = point.gains.max() {
                // Rounded first, so that a small loss does not print as "-0.0".
                func tenth(_ value: Double) -> Double { (value * 10).rounded() / 10 + 0 }
                let mean = point.gains.reduce(0, +) / Double(point.gains.count)
                gain = String(format: "%.1f %%", tenth(mean)) + (point.gains.count > 1 ? String(format: " (%.1f to %.1f)", tenth(low), tenth(high)) : "")
            }
            return [decimal(point.timeScale), decimal(point.demand), String(format: "%.2f", point.offeredLoad)] + point.meanCompletionS.map { decimal($0.seconds) } + [gain]
        }))
        print("gain: how much lower junction's mean completion is, averaged over \(seeds) seed\(seeds == 1 ? "" : "s") (lowest to highest); offered load: what the jobs would hold of the busiest resource, each run from its arrival at speed 1, over its capacity, from 5 % to 95 % of arrivals")
    }

    private func percent(_ share: Double) -> String { String(format: "%.1f%%", share * 100) }

    private func csvText(_ runs: [SweepRun]) -> String {
        var lines = ["policy,jobs,completed,never_fit,failed,still_waiting,mean_completion_s,p50_completion_s,p95_completion_s,p99_completion_s,mean_queue_s,mean_transfer_s,budget_jobs,budget_violations,replacements,reroutes,mean_gpu_allocation,mean_cpu_allocation,offered_gpu_load,offered_cpu_load,gigabyte_km,simulated_s,events,time_scale,demand,seed"]
        for run in runs {
            for r in run.reports {
                let values: [Any] = [r.policy, r.jobs, r.completed, r.neverFit, r.failed, r.stillWaiting, r.meanCompletionS, r.p50CompletionS, r.p95CompletionS, r.p99CompletionS, r.meanQueueS, r.meanTransferS,
                                     r.budgetJobs, r.budgetViolations, r.replacements, r.reroutes, r.meanGPUAllocation, r.meanCPUAllocation, r.offeredGPULoad, r.offeredCPULoad, r.gigabyteKilometres, r.simulatedSeconds, r.events,
                                     run.timeScale, run.demand, run.seed]
                lines.append(values.map { "\($0)" }.joined(separator: ","))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// `junction simulate allocation`: how full a cluster gets as pods arrive, against published curves.
struct SimulateAllocation: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "allocation",
        abstract: "Fill one cluster with openb pods and report the GPU allocation curve per policy.",
        discussion: """
        Every machine of the node list becomes a pool at one network node; pods arrive in a \
        seeded random order (the list reshuffled whenever it runs out) until their GPU demand \
        reaches --up-to % of the cluster's GPUs, never leave, and are dropped when no machine fits. \
        The controller core places each one. The curve is the allocated share of the GPUs at each \
        whole % of arrived demand, as in the published openb policy comparisons; with --published \
        their mean curves for the same workload are shown beside Junction's. A pod asking for part \
        of a GPU shares one with others: the engine puts it on the GPU of the machine where it \
        packs best, or shares a free one.

        Example:
          junction simulate allocation --nodes openb_node_list_all_node.csv --pods openb_pod_list_default.csv \\
            --published analysis_allo_discrete.csv --plots out/
        """
    )

    @Option(help: "The openb node list (sn,cpu_milli,memory_mib,gpu,model).")
    var nodes: String

    @Option(help: "The openb pod list.")
    var pods: String

    @Option(help: "Policy to run: all, junction, compute-only, network-only or random.")
    var policy: PolicyChoice = .all

    @Option(help: "Stop when the arrived GPU demand reaches this % of the cluster's GPUs.")
    var upTo = 130

    @Option(help: "First seed of the arrival order.")
    var seed: UInt64 = 42

    @Option(help: "Runs per policy, with seeds counting up from --seed; the curves are averaged.")
    var seeds = 1

    @Option(help: "Published curves (analysis_allo_discrete.csv) to compare against.")
    var published: String?

    @Option(help: "The published workload to compare with (default: the pod list's file name).")
    var workload: String?

    @Flag(help: "Ignore the pods' GPU model constraints.")
    var ignoreGpuModels = false

    @Option(help: "Write the curves to this file: .json or .csv (one row per curve, as the published file).")
    var output: String?

    @Option(help: "Write allocation.svg into this folder.")
    var plots: String?

    @Flag(help: "Print the curves as JSON instead of the table.")
    var json = false

    func validate() throws {
        guard (1...400).contains(upTo) else { throw ValidationError("--up-to must be between 1 and 400") }
        guard (1...100).contains(seeds) else { throw ValidationError("--seeds must be between 1 and 100") }
        if let output { guard output.hasSuffix(".json") || output.hasSuffix(".csv") else { throw ValidationError("--output must end in .json or .csv") } }
    }

    /// A policy's curve averaged over its seeds.
    struct Averaged: Encodable {
        var policy: String
        var seeds: [UInt64]
        var allocatedPercent: [Double]
        /// Each seed's own curve, in seed order: the spread behind the mean.
        var allocatedPercentBySeed: [[Double]]
        var heldPercent: [Double]
        var placed: Double
        var dropped: Double

        /// How the curve is named beside the published ones.
        var label: String { "Junction " + (policy == "junction" ? "joint" : policy) }
    }

    /// What `--json` and `--output x.json` carry.
    struct Result: Encodable {
        var workload: String
        var totalGPUs: Int
        var junction: [Averaged]
        var published: [PublishedCurves.Mean]
    }

    func run() throws {
        let machines = try readTrace(nodes, TraceReader.openbNodes)
        let podList = try readTrace(pods, TraceFormat.openb.read)
        let totalGPUs = machines.reduce(0) { $0 + $1.gpus }
        guard totalGPUs > 0 else { throw CommandFailure("\(nodes) lists no GPUs") }
        let name = workload ?? URL(fileURLWithPath: pods).deletingPathExtension().lastPathComponent
        var reference: [PublishedCurves.Mean] = []
        if let published {
            let all = try readTrace(published) { (text) throws(TraceError) in try PublishedCurves(csv: text) }
            reference = all.curves.filter { $0.workload == name }
            if reference.isEmpty {
                throw CommandFailure("\(published) has no curves for \(name); it has \(all.workloads.joined(separator: ", ")) (choose with --workload)")
            }
        }
        if !json { printError("\(machines.count) machines with \(totalGPUs) GPUs; \(podList.jobs.count) pods; filling to \(upTo) % of the GPUs, \(seeds) seed\(seeds == 1 ? "" : "s") per policy") }

        var averaged: [Averaged] = []
        for choice in policy.policies(seed: seed) {
            var curves: [AllocationReplay.Curve] = []
            var bar = ProgressBar(choice.name, quiet: json)
            for run in 0..<seeds {
                var replay = AllocationReplay(nodes: machines, pods: podList.jobs, policy: choice)
                replay.maximumPercent = upTo
                replay.useGPUModels = !ignoreGpuModels
                replay.seed = seed + UInt64(run)
                curves.append(replay.run { bar.update((Double(run) + $0) / Double(seeds)) })
            }
            func mean(_ pick: (AllocationReplay.Curve) -> [Double]) -> [Double] {
                let length = curves.map { pick($0).count }.min() ?? 0
                return (0..<length).map { index in curves.reduce(0) { $0 + pick($1)[index] } / Double(curves.count) }
            }
            let result = Averaged(
                policy: choice.name, seeds: curves.map(\.seed), allocatedPercent: mean(\.allocatedPercent),
                allocatedPercentBySeed: curves.map(\.allocatedPercent), heldPercent: mean(\.heldPercent),
                placed: Double(curves.reduce(0) { $0 + $1.placed }) / Double(curves.count), dropped: Double(curves.reduce(0) { $0 + $1.dropped }) / Double(curves.count)
            )
            bar.finish(String(format: "%.0f pods placed, %.0f dropped,", result.placed, result.dropped))
            averaged.append(result)
        }
        let result = Result(workload: name, totalGPUs: totalGPUs, junction: averaged, published: reference)
        if let output {
            if output.hasSuffix(".json") {
                try writeFile(output, try jsonText(result))
            } else {
                let columns = (0...upTo).map(String.init).joined(separator: ",")
                var lines = ["workload,policy,seeds,total_gpus,\(columns)"]
                for curve in averaged { lines.append("\(name),junction-\(curve.policy),\(curve.seeds.count),\(totalGPUs),\(curve.allocatedPercent.map { String(format: "%.2f", $0) }.joined(separator: ","))") }
                for curve in reference { lines.append("\(name),\(curve.policy),\(curve.seeds),\(totalGPUs),\(curve.percent.prefix(upTo + 1).map { String(format: "%.2f", $0) }.joined(separator: ","))") }
                try writeFile(output, lines.joined(separator: "\n") + "\n")
            }
        }
        if let plots {
            var lines = averaged.map { curve in
                LineChart.Line(name: curve.label, points: curve.allocatedPercent.enumerated().map { (x: Double($0.offset), y: $0.element) })
            }
            lines += reference.map { curve in
                LineChart.Line(name: curve.policy, points: curve.percent.prefix(upTo + 1).enumerated().map { (x: Double($0.offset), y: $0.element) }, dashed: true)
            }
            let chart = LineChart(title: "GPU allocation as \(name) arrives (\(totalGPUs) GPUs)", xLabel: "arrived GPU demand, % of the cluster's GPUs", yLabel: "GPUs allocated, %", lines: lines, yRange: 0...100)
            try writeFile(plots + "/allocation.svg", chart.svg())
            if !json { printError("plot: \(plots)/allocation.svg") }
        }
        if json {
            print(try jsonText(result))
            return
        }
        let steps = Array(stride(from: 10, through: upTo, by: 10))
        var rows = averaged.map { curve in [curve.label] + steps.map { $0 < curve.allocatedPercent.count ? String(format: "%.1f", curve.allocatedPercent[$0]) : "-" } }
        rows += reference.map { curve in ["\(curve.policy) (published)"] + steps.map { $0 < curve.percent.count ? String(format: "%.1f", curve.percent[$0]) : "-" } }
        print("GPUs allocated (%) as the arrived GPU demand reaches each % of the cluster's \(totalGPUs) GPUs:")
        print(table(header: ["policy"] + steps.map { "\($0)%" }, rows: rows))
        if !reference.isEmpty, let last = steps.last {
            let best = reference.max { ($0.percent.count > last ? $0.percent[last] : 0) < ($1.percent.count > last ? $1.percent[last] : 0) }!
            for curve in averaged where curve.allocatedPercent.count > last {
                let below = reference.filter { $0.percent.count > last && $0.percent[last] < curve.allocatedPercent[last] }.map(\.policy)
                let bySeed = curve.allocatedPercentBySeed.map { $0[last] }
                let spread = bySeed.count > 1 ? String(format: ", %d seeds from %.1f%% to %.1f%%", bySeed.count, bySeed.min()!, bySeed.max()!) : ""
                print(String(format: "%@ reaches %.1f%% at %d%% demand (holding %.1f%%%@); best published %@ %.1f%%; above: %@", curve.label, curve.allocatedPercent[last], last, curve.heldPercent[last], spread, best.policy, best.percent[last], below.isEmpty ? "none" : below.joined(separator: ", ")))
            }
        }
    }
}
