import Observability
import PoolAgentCore
import Topology

/// The pool agent's side of its admin endpoint: metrics, with gauges read from the agent core on
/// its loop's thread, and readiness (a controller session is open).
public actor AgentAdmin: AdminSource {
    private let service: PoolAgentService
    private let export: PrometheusExport
    private let jobs: GaugeFamily
    private let capacity: CapacityGauges
    private let registered: GaugeFamily
    private let loopTimeout: Duration = .seconds(10)

    public nonisolated var servesDashboard: Bool { false }

    public init(service: PoolAgentService, export: PrometheusExport) {
        self.service = service
        self.export = export
        jobs = export.gaugeFamily("junction_agent_jobs")
        capacity = CapacityGauges(prefix: "junction_agent_capacity", export: export)
        registered = export.gaugeFamily("junction_agent_registered")
    }

    public func metrics() async -> [UInt8] {
        if let readings = await service.inspect(timeout: loopTimeout, { $0.readings() }) {
            jobs.update([
                ([("state", "starting")], Double(readings.starting)), ([("state", "running")], Double(readings.running)),
                ([("state", "stopping")], Double(readings.stopping)),
            ])
            capacity.update(total: readings.total, free: readings.free)
            registered.update([([], readings.registered ? 1 : 0)])
        }
        return export.render()
    }

    public func notReady() async -> String? {
        guard let registered = await service.inspect(timeout: loopTimeout, { $0.isRegistered }) else { return "the agent's loop did not answer within 10 s" }
        return registered ? nil : "no controller session is open"
    }

    public func api(_ path: String, query: [String: String]) async -> AdminAnswer? { nil }

    public nonisolated func events() -> AsyncStream<[UInt8]>? { nil }
}

/// Capacity gauges by resource, total and free: CPU cores, memory, GPUs by model.
struct CapacityGauges {
    let cpu: GaugeFamily
    let memory: GaugeFamily
    let gpus: GaugeFamily

    init(prefix: String, export: PrometheusExport) {
        cpu = export.gaugeFamily(prefix + "_cpu_cores")
        memory = export.gaugeFamily(prefix + "_memory_bytes")
        gpus = export.gaugeFamily(prefix + "_gpus")
    }

    func update(total: Resources, free: Resources) {
        cpu.update([([("kind", "total")], total.cpuCores), ([("kind", "free")], free.cpuCores)])
        memory.update([([("kind", "total")], Double(total.memoryBytes)), ([("kind", "free")], Double(free.memoryBytes))])
        gpus.update(total.gpus.keys.sorted().flatMap { model in
            [([("model", model), ("kind", "total")], Double(total.gpus[model] ?? 0)), ([("model", model), ("kind", "free")], Double(free.gpus[model] ?? 0))]
        })
    }
}
