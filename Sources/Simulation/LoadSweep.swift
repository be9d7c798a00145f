/// One simulation of a sweep over load: its time scale, demand and seed, with each policy's report.
public struct SweepRun: Sendable, Hashable, Codable {
    public var timeScale: Double
    public var demand: Double
    public var seed: UInt64
    public var reports: [SimulationReport]

    public init(timeScale: Double, demand: Double = 1, seed: UInt64, reports: [SimulationReport]) {
        self.timeScale = timeScale
        self.demand = demand
        self.seed = seed
        self.reports = reports
    }

    /// The offered load of the busiest resource (GPUs or cores); the same for every policy.
    public var offeredLoad: Double {
        reports.first.map { Swift.max($0.offeredGPULoad, $0.offeredCPULoad) } ?? 0
    }

    /// How much lower the joint policy's mean completion is than another policy's, in percent
    /// (negative when higher); nil when either did not run or completed nothing.
    public func gain(against policy: String) -> Double? {
        guard let joint = report("junction"), let other = report(policy), other.meanCompletionS > 0 else { return nil }
        return (1 - joint.meanCompletionS / other.meanCompletionS) * 100
    }

    /// The one-sided policy (compute-only or network-only) with the lower mean completion.
    public var bestOneSided: SimulationReport? {
        reports.filter { $0.policy == "compute-only" || $0.policy == "network-only" }.min { $0.meanCompletionS < $1.meanCompletionS }
    }

    func report(_ policy: String) -> SimulationReport? {
        reports.first { $0.policy == policy && $0.completed > 0 }
    }
}

/// A sweep's runs at one time scale and demand, over their seeds.
public struct SweepPoint: Sendable {
    public var timeScale: Double
    public var demand: Double
    /// The busiest resource's offered load, averaged over the seeds.
    public var offeredLoad: Double
    /// Each policy's mean completion averaged over the seeds, in the runs' policy order.
    public var meanCompletionS: [(policy: String, seconds: Double)]
    /// The joint policy's gain against the best one-sided policy of each seed's run, in percent.
    public var gains: [Double]
    /// The joint policy's gain against each other policy, averaged over the seeds, in the runs'
    /// policy order; a policy with no gain to give is left out.
    public var meanGainAgainst: [(policy: String, percent: Double)]
}

extension Array where Element == SweepRun {
    /// The runs grouped by time scale and demand, in order of offered load.
    public var points: [SweepPoint] {
        var groups: [[SweepRun]] = []
        for run in self {
            if let index = groups.firstIndex(where: { $0[0].timeScale == run.timeScale && $0[0].demand == run.demand }) {
                groups[index].append(run)
            } else {
                groups.append([run])
            }
        }
        return groups.map { runs in
            let policies = runs[0].reports.map(\.policy)
            let means = policies.map { policy in
                let values = runs.compactMap { $0.report(policy)?.meanCompletionS }
                return (policy: policy, seconds: values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count))
            }
            let gains = runs.compactMap { run in run.bestOneSided.flatMap { run.gain(against: $0.policy) } }
            let against = policies.filter { $0 != "junction" }.compactMap { policy -> (policy: String, percent: Double)? in
                let values = runs.compactMap { $0.gain(against: policy) }
                return values.isEmpty ? nil : (policy, values.reduce(0, +) / Double(values.count))
            }
            return SweepPoint(
                timeScale: runs[0].timeScale, demand: runs[0].demand, offeredLoad: runs.map(\.offeredLoad).reduce(0, +) / Double(runs.count),
                meanCompletionS: means, gains: gains, meanGainAgainst: against
            )
        }.sorted { ($0.offeredLoad, $0.timeScale, $0.demand) < ($1.offeredLoad, $1.timeScale, $1.demand) }
    }

    /// The joint policy's gain in mean completion against each other policy and against the best
    /// one-sided one, as the offered load grows; each point averages the seeds.
    public var gainChart: LineChart {
        let points = points
        let others = (first?.reports.map(\.policy) ?? []).filter { $0 != "junction" }
        var lines: [LineChart.Line] = []
        if others.contains("compute-only") || others.contains("network-only") {
            lines.append(LineChart.Line(name: "vs best one-sided", points: points.compactMap { point in
                point.gains.isEmpty ? nil : (x: point.offeredLoad, y: point.gains.reduce(0, +) / Double(point.gains.count))
            }))
        }
        for policy in others {
            lines.append(LineChart.Line(name: "vs \(policy)", points: points.compactMap { point in
                point.meanGainAgainst.first { $0.policy == policy }.map { (x: point.offeredLoad, y: $0.percent) }
            }, dashed: true))
        }
        return LineChart(
            title: "Junction's mean completion against the other policies",
            xLabel: "offered load of the busiest resource", yLabel: "mean completion lower by, %", lines: lines
        )
    }
}
