import Placement
import Topology

/// What a finished job is charged: what it used, and its cost at the prices its pool had when
/// the job was dispatched there.
public struct JobCharge: Sendable, Hashable {
    public var coreSeconds: Double
    /// GPU-seconds by model.
    public var gpuSeconds: [String: Double]
    public var memoryGiBSeconds: Double
    public var bytesMoved: UInt64
    public var cost: Double

    public init(coreSeconds: Double = 0, gpuSeconds: [String: Double] = [:], memoryGiBSeconds: Double = 0, bytesMoved: UInt64 = 0, cost: Double = 0) {
        self.coreSeconds = coreSeconds
        self.gpuSeconds = gpuSeconds
        self.memoryGiBSeconds = memoryGiBSeconds
        self.bytesMoved = bytesMoved
        self.cost = cost
    }

    /// What `spec` used as `usage` reports, priced at `price`.
    public init(spec: JobSpec, usage: JobUsage, gpuModel: String?, price: Price) {
        let model = spec.gpuShare?.model ?? gpuModel ?? spec.resources.gpus.keys.sorted().first
        let gpuSeconds = usage.gpuSeconds > 0 ? [model ?? "": usage.gpuSeconds] : [:]
        let cost = usage.coreSeconds / 3_600 * price.cpuCoreHour
            + gpuSeconds.reduce(0) { $0 + $1.value / 3_600 * (price.gpuHour[$1.key] ?? 0) }
        self.init(
            coreSeconds: usage.coreSeconds, gpuSeconds: gpuSeconds,
            memoryGiBSeconds: Double(spec.resources.memoryBytes) / Double(1 << 30) * usage.wallSeconds,
            bytesMoved: usage.bytesIn &+ usage.bytesOut, cost: cost
        )
    }

    /// Adds another charge to this one.
    public mutating func add(_ other: JobCharge) {
        coreSeconds += other.coreSeconds
        gpuSeconds.merge(other.gpuSeconds, uniquingKeysWith: +)
        memoryGiBSeconds += other.memoryGiBSeconds
        bytesMoved &+= other.bytesMoved
        cost += other.cost
    }
}

/// How usage is summed.
public enum UsageGrouping: String, Sendable, Hashable, CaseIterable {
    case owner, tenant, pool
}

/// A question about what jobs that ended in a period were charged.
public struct UsageQuery: Sendable, Hashable {
    public var sinceMs: Int64
    public var untilMs: Int64
    public var by: UsageGrouping

    public init(sinceMs: Int64, untilMs: Int64, by: UsageGrouping) {
        self.sinceMs = sinceMs
        self.untilMs = untilMs
        self.by = by
    }
}

/// The jobs of one owner or pool that ended in a period, and what they were charged together.
public struct UsageRow: Sendable, Hashable {
    public var key: String
    public var jobs: Int
    public var charge: JobCharge

    public init(key: String, jobs: Int, charge: JobCharge) {
        self.key = key
        self.jobs = jobs
        self.charge = charge
    }
}

/// What a usage question is answered with.
public struct UsageSummary: Sendable, Hashable {
    /// In key order, at most `UsageSummary.rowLimit`.
    public var rows: [UsageRow]
    public var jobs: Int
    /// Whether there were more rows than the limit.
    public var truncated: Bool

    /// More rows than this would not fit a reply.
    public static let rowLimit = 10_000

    public init(rows: [UsageRow], jobs: Int, truncated: Bool) {
        self.rows = rows
        self.jobs = jobs
        self.truncated = truncated
    }

    /// Sums jobs into rows by `by`.
    public init(_ jobs: some Sequence<JobView>, by: UsageGrouping) {
        var sums = UsageAccumulator(by: by)
        for job in jobs { sums.add(job) }
        self = sums.summary
    }
}

/// Sums jobs' charges into rows one job at a time, so a long period is never held at once.
public struct UsageAccumulator: Sendable {
    public let by: UsageGrouping
    private var sums: [String: UsageRow] = [:]
    private var jobs = 0

    public init(by: UsageGrouping) {
        self.by = by
    }

    /// Adds a job's charge to its row; a job never charged (it ended before any pool ran it) adds nothing.
    public mutating func add(_ job: JobView) {
        guard let charge = job.charge else { return }
        jobs += 1
        let key = switch by {
        case .owner: job.spec.owner
        case .tenant: job.spec.tenant
        case .pool: job.pool
        }
        sums[key, default: UsageRow(key: key, jobs: 0, charge: JobCharge())].jobs += 1
        sums[key]?.charge.add(charge)
    }

    public var summary: UsageSummary {
        let rows = sums.values.sorted { $0.key < $1.key }
        return UsageSummary(rows: Array(rows.prefix(UsageSummary.rowLimit)), jobs: jobs, truncated: rows.count > UsageSummary.rowLimit)
    }
}

extension ControllerCore {
    /// Charges a job that ended on its pool, and counts what it used for the pool's metrics.
    mutating func charge(_ id: String, usage: JobUsage) {
        guard var job = jobs[id], let pool = job.pool else { return }
        let price = job.dispatchPrice ?? engine.pool(pool)?.price ?? Price()
        let charge = JobCharge(spec: job.spec, usage: usage, gpuModel: job.estimate?.gpuModel, price: price)
        job.charge = charge
        jobs[id] = job
        metrics.usage(charge, pool: pool)
    }
}
