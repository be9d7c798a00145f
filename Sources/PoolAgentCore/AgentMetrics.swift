import CoreMetrics
import Topology

/// What the agent core counts as it works, through swift-metrics; the default records nothing.
public struct AgentMetrics: Sendable {
    let jobsStarted: Counter
    let jobsFinished: [String: Counter]
    let sessionsLost: Counter
    let registerRoundTrip: Timer

    /// Every metric the agent exports, with its help text.
    public static let help: [String: String] = [
        "junction_agent_jobs_started_total": "Jobs the agent was dispatched and started.",
        "junction_agent_jobs_finished_total": "Jobs that ended here, by how: succeeded, failed, cancelled.",
        "junction_agent_sessions_lost_total": "Controller sessions lost: silence past the liveness window, or no welcome.",
        "junction_agent_register_round_trip_seconds": "Time from sending a registration to the controller's welcome.",
        "junction_agent_executor_errors_total": "Jobs the executor could not start.",
        "junction_agent_jobs": "Jobs on this pool, by state: starting, running, stopping.",
        "junction_agent_capacity_cpu_cores": "CPU cores this pool offers: total, and free of running jobs.",
        "junction_agent_capacity_memory_bytes": "Memory this pool offers: total, and free of running jobs.",
        "junction_agent_capacity_gpus": "GPUs this pool offers by model: total, and free of running jobs.",
        "junction_agent_registered": "1 while a controller session is open, else 0.",
    ]

    /// Histogram buckets, in seconds, for the durations.
    public static let durationBuckets: [String: [Double]] = [
        "junction_agent_register_round_trip_seconds": [0.000_5, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    ]

    public init(factory: any MetricsFactory = NOOPMetricsHandler.instance) {
        jobsStarted = Counter(label: "junction_agent_jobs_started_total", factory: factory)
        var finished: [String: Counter] = [:]
        for outcome in ["succeeded", "failed", "cancelled"] {
            finished[outcome] = Counter(label: "junction_agent_jobs_finished_total", dimensions: [("outcome", outcome)], factory: factory)
        }
        jobsFinished = finished
        sessionsLost = Counter(label: "junction_agent_sessions_lost_total", factory: factory)
        registerRoundTrip = Timer(label: "junction_agent_register_round_trip_seconds", factory: factory)
    }
}

/// The agent's state as gauges read it.
public struct AgentReadings: Sendable {
    public var starting = 0
    public var running = 0
    public var stopping = 0
    public var total = Resources()
    public var free = Resources()
    public var registered = false
}

extension PoolAgentCore {
    /// Reads the gauges' values.
    public func readings() -> AgentReadings {
        var readings = AgentReadings(total: configuration.capacity, free: free, registered: isRegistered)
        for job in jobs.values {
            if job.stopping {
                readings.stopping += 1
            } else if job.started {
                readings.running += 1
            } else {
                readings.starting += 1
            }
        }
        return readings
    }
}
