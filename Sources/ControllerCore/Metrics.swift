import CoreMetrics
import Placement
import Topology

/// What the controller core counts as it works, through swift-metrics: the service hands it a
/// factory (Prometheus in the daemon); the simulator and tests leave the default, which records
/// nothing. Gauges of the current state are not kept here but read on demand (`readings()`).
public struct ControllerMetrics: Sendable {
    let factory: any MetricsFactory
    let advertisementsApplied: Counter
    let submitPlaced: Counter
    let submitNoPool: Counter
    let submitInvalid: Counter
    let retryPlaced: Counter
    let retryNoPool: Counter
    let jobsPlanned: Counter
    let plansRevised: Counter
    let jobsSubmitted: Counter
    let jobsFinished: [JobState: Counter]
    let submitToDispatch: Timer
    /// Dropped messages by "source.reason", made when a reason first occurs.
    private(set) var dropped: [String: Counter] = [:]
    /// What finished jobs used, by metric, pool and model; made when first used.
    private(set) var usageCounters: [[String]: FloatingPointCounter] = [:]

    /// Every metric the core and the controller service export, with its help text.
    public static let help: [String: String] = [
        "junction_advertisements_applied_total": "Pool advertisements applied to the routing table.",
        "junction_messages_dropped_total": "Messages dropped or refused, by where they came from and why.",
        "junction_placements_total": "Placement decisions, by what asked for them and how they ended.",
        "junction_jobs_submitted_total": "Jobs accepted from clients.",
        "junction_jobs_finished_total": "Jobs that reached a final state, by that state.",
        "junction_submit_to_dispatch_seconds": "Time from a job's submission to each of its dispatches.",
        "junction_placement_duration_seconds": "Time the controller took to decide a placement request or submit.",
        "junction_store_commit_duration_seconds": "Time to commit one batch of state changes to the job store.",
        "junction_peers_refused_total": "Connections refused during the CURVE handshake, by reason.",
        "junction_event_subscribers": "Subscribers the events endpoint follows.",
        "junction_event_subscriptions_refused_total": "Subscriptions to the events endpoint refused: past a subscriber's limits, or malformed.",
        "junction_controller_leading": "1 while this controller leads its store, 0 while it stands by (always 1 on a store of its own).",
        "junction_controller_epoch": "The epoch this controller leads under; 0 while it stands by.",
        "junction_controller_leadership_changes_total": "Times this controller took the lead or stepped down.",
        "junction_jobs": "Jobs not finished, by state.",
        "junction_jobs_waiting": "Accepted jobs waiting for a pool with room.",
        "junction_jobs_planned": "Accepted jobs planned to start later on a pool with no room for them yet.",
        "junction_jobs_in_memory": "Jobs the controller holds in memory, active and recently finished.",
        "junction_pools": "Pools in the routing table, by status: declared (no agent yet), up, stale, down, dampened (flapping).",
        "junction_capacity_cpu_cores": "CPU cores of pools that are up: total, and free as last advertised less what leases hold.",
        "junction_capacity_memory_bytes": "Memory of pools that are up: total, and free less what leases hold.",
        "junction_capacity_gpus": "GPUs of pools that are up, by model: total, and free less what leases hold.",
        "junction_link_reserved_bytes_per_second": "Bandwidth leases hold on the busier direction of a link.",
        "junction_link_capacity_bytes_per_second": "A link's capacity, 0 while it is down.",
        "junction_link_reserved_ratio": "Share of a link's capacity that leases hold on its busier direction.",
        "junction_links_down": "Links marked down.",
        "junction_route_searches_total": "Shortest-path searches run to build or refresh routes.",
        "junction_events_published_total": "Events published on the events endpoint.",
        "junction_topology_version": "Version of the routing state; changes with every topology or link change.",
        "junction_connections": "Peers connected to an endpoint: pool agents, clients, event subscribers.",
        "junction_usage_core_seconds_total": "Core-seconds used by jobs that ended, by pool.",
        "junction_usage_gpu_seconds_total": "GPU-seconds used by jobs that ended, by pool and GPU model.",
        "junction_usage_memory_gib_seconds_total": "Memory asked for (GiB) times wall seconds, of jobs that ended, by pool.",
        "junction_usage_cost_total": "What jobs that ended cost at their pool's prices when dispatched, by pool.",
    ]

    /// Histogram buckets, in seconds, for the metrics that are durations.
    public static let durationBuckets: [String: [Double]] = [
        "junction_submit_to_dispatch_seconds": [0.001, 0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 1_800, 3_600],
        "junction_placement_duration_seconds": [0.000_01, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.05, 0.25],
        "junction_store_commit_duration_seconds": [0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
    ]

    public init(factory: any MetricsFactory = NOOPMetricsHandler.instance) {
        self.factory = factory
        advertisementsApplied = Counter(label: "junction_advertisements_applied_total", factory: factory)
        // Placement outcomes, by what asked: a client's submit, or a waiting job tried again.
        func placements(_ request: String, _ outcome: String) -> Counter {
            Counter(label: "junction_placements_total", dimensions: [("request", request), ("outcome", outcome)], factory: factory)
        }
        submitPlaced = placements("submit", "placed")
        submitNoPool = placements("submit", "no_pool")
        submitInvalid = placements("submit", "invalid")
        retryPlaced = placements("retry", "placed")
        retryNoPool = placements("retry", "no_pool")
        jobsPlanned = placements("plan", "planned")
        plansRevised = placements("plan", "revised")
        jobsSubmitted = Counter(label: "junction_jobs_submitted_total", factory: factory)
        var finished: [JobState: Counter] = [:]
        for state in JobState.allCases where state.isFinished {
            finished[state] = Counter(label: "junction_jobs_finished_total", dimensions: [("state", state.rawValue)], factory: factory)
        }
        jobsFinished = finished
        submitToDispatch = Timer(label: "junction_submit_to_dispatch_seconds", factory: factory)
    }

    /// Counts what a job that ended on `pool` used.
    mutating func usage(_ charge: JobCharge, pool: String) {
        func add(_ label: String, _ value: Double, model: String? = nil) {
            guard value > 0 else { return }
            let key = [label, pool, model ?? ""]
            let counter = usageCounters[key] ?? FloatingPointCounter(
                label: label, dimensions: [("pool", pool)] + (model.map { [("model", $0)] } ?? []), factory: factory
            )
            usageCounters[key] = counter
            counter.increment(by: value)
        }
        add("junction_usage_core_seconds_total", charge.coreSeconds)
        for (model, seconds) in charge.gpuSeconds { add("junction_usage_gpu_seconds_total", seconds, model: model) }
        add("junction_usage_memory_gib_seconds_total", charge.memoryGiBSeconds)
        add("junction_usage_cost_total", charge.cost)
    }

    mutating func drop(_ reason: String) {
        if let counter = dropped[reason] {
            counter.increment()
            return
        }
        let parts = reason.split(separator: ".", maxSplits: 1).map(String.init)
        let counter = Counter(
            label: "junction_messages_dropped_total",
            dimensions: [("source", parts.first ?? reason), ("reason", parts.count > 1 ? parts[1] : "other")], factory: factory
        )
        dropped[reason] = counter
        counter.increment()
    }
}

/// The controller's state as gauges read it: counts and capacities at one moment.
public struct ControllerReadings: Sendable {
    /// Active jobs by state (accepted, dispatched, running).
    public var jobsByState: [JobState: Int] = [:]
    public var waitingJobs = 0
    public var plannedJobs = 0
    public var jobsInMemory = 0
    /// Pools by status: declared (no agent yet), up, stale (up, advertisement too old), down.
    public var poolsByStatus: [String: Int] = ["declared": 0, "up": 0, "stale": 0, "down": 0, "dampened": 0]
    /// Totals over pools that are up and not stale, and what is free of them after leases.
    public var total = Resources()
    public var free = Resources()
    /// Per link id: its capacity (0 while down) and what leases hold, in Gbit/s.
    public var links: [(id: String, capacityGbps: Double, reservedGbps: Double)] = []
    public var linksDown = 0
    public var routeSearches = 0
    public var eventSequence: UInt64 = 0
    public var routingVersion: UInt64 = 0
}

extension ControllerCore {
    /// Reads the gauges' values: a walk over active jobs, pools and links, for a scrape.
    public func readings() -> ControllerReadings {
        var readings = ControllerReadings()
        for id in activeJobs {
            guard let job = jobs[id] else { continue }
            readings.jobsByState[job.state, default: 0] += 1
            if job.plan != nil, job.pool == nil { readings.plannedJobs += 1 }
        }
        readings.waitingJobs = waitingJobs.count
        readings.jobsInMemory = jobs.count
        let freshSince = time.seconds - engine.staleAfterS
        for pool in engine.pools {
            let stale = pool.liveness == .up && (pool.lastAdvertisement ?? -.infinity) < freshSince
            readings.poolsByStatus[stale ? "stale" : pool.liveness.rawValue, default: 0] += 1
            guard pool.liveness == .up, !stale else { continue }
            let available = pool.available
            readings.total.cpuCores += pool.total.cpuCores
            readings.total.memoryBytes += pool.total.memoryBytes
            readings.free.cpuCores += available.cpuCores
            readings.free.memoryBytes += available.memoryBytes
            for (model, count) in pool.total.gpus { readings.total.gpus[model, default: 0] += count }
            for (model, count) in available.gpus { readings.free.gpus[model, default: 0] += count }
        }
        let network = engine.network
        for (index, link) in network.topology.links.enumerated() {
            let held = network.reservedGbps(link: index)
            let up = network.isUp[index]
            if !up { readings.linksDown += 1 }
            readings.links.append((link.id, up ? network.capacityGbps[index] : 0, held))
        }
        readings.routeSearches = engine.routeSearches
        readings.eventSequence = eventSequence
        readings.routingVersion = engine.version
        return readings
    }
}
