import ControllerCore
import HeapModule
import Placement
import Topology
import Wire

/// What to simulate: a network with its pools, a workload, and how jobs enter it.
public struct SimulationSetup: Sendable {
    public var topology: Topology
    public var jobs: [TraceJob]
    public var policy: Policy
    /// Nodes where jobs without an ingress of their own enter, drawn uniformly.
    public var ingresses: [String]
    /// Input data for jobs whose trace does not say, in bytes.
    public var defaultDataBytes: Double
    /// Arrival times are divided by this: 2 compresses the trace to twice the load.
    public var timeScale: Double
    /// Use the trace's GPU model constraints; off when the network's models differ from the trace's.
    public var useGPUModels: Bool
    public var seed: UInt64

    public init(topology: Topology, jobs: [TraceJob], policy: Policy, ingresses: [String], defaultDataBytes: Double = 0, timeScale: Double = 1, useGPUModels: Bool = true, seed: UInt64 = 1) {
        self.topology = topology
        self.jobs = jobs
        self.policy = policy
        self.ingresses = ingresses
        self.defaultDataBytes = defaultDataBytes
        self.timeScale = timeScale
        self.useGPUModels = useGPUModels
        self.seed = seed
    }
}

/// What a simulation measured.
public struct SimulationReport: Sendable, Hashable, Codable {
    public var policy: String
    public var jobs: Int
    public var completed: Int
    /// Jobs that fit no pool even when the network was empty.
    public var neverFit: Int
    public var meanCompletionS: Double
    public var p50CompletionS: Double
    public var p95CompletionS: Double
    public var p99CompletionS: Double
    public var meanQueueS: Double
    public var meanTransferS: Double
    /// Data moved times the distance it travelled, in GB·km (latency × 200 km/ms).
    public var gigabyteKilometres: Double
    public var simulatedSeconds: Double
    public var events: Int
}

/// A discrete-event simulation that drives the controller core itself: pools register with it,
/// jobs are submitted to it at their arrival on a virtual clock, its dispatches start the jobs,
/// and their ends go back to it as job updates. A job that fits nowhere waits in a first come,
/// first served queue; whenever a job ends, waiting jobs are submitted again from the head until
/// one still does not fit.
public struct Simulator {
    private enum Kind: Int { case finish = 0, arrival = 1 }

    private struct Event: Comparable {
        var time: Double
        var kind: Kind
        var order: Int
        var job: Int

        static func < (a: Event, b: Event) -> Bool {
            (a.time, a.kind.rawValue, a.order) < (b.time, b.kind.rawValue, b.order)
        }
    }

    private let setup: SimulationSetup
    private var core: ControllerCore
    private var queue = Heap<Event>()
    private var waiting: [Int] = []
    private var order = 0
    private var now = 0.0
    private var arrival: [Double]
    private var started: [Double?]
    private var finished: [Double?]
    private var transfer: [Double]
    private var distance: [Double]
    private var idOfJob: [Int: String] = [:]
    private var poolOfJob: [Int: String] = [:]
    private var neverFit = 0
    private var events = 0
    private var rng: SeededGenerator

    public init(_ setup: SimulationSetup) {
        self.setup = setup
        var configuration = ControllerConfiguration()
        configuration.policy = setup.policy
        configuration.staleAfterS = .infinity
        configuration.livenessMs = .max
        core = ControllerCore(topology: setup.topology, configuration: configuration)
        arrival = setup.jobs.map { $0.arrivalS / setup.timeScale }
        started = Array(repeating: nil, count: setup.jobs.count)
        finished = Array(repeating: nil, count: setup.jobs.count)
        transfer = Array(repeating: 0, count: setup.jobs.count)
        distance = Array(repeating: 0, count: setup.jobs.count)
        rng = SeededGenerator(seed: setup.seed)
    }

    private func time() -> ControllerTime {
        ControllerTime(seconds: now, unixMs: Int64(now * 1_000))
    }

    /// Runs every event; `progress` is told the share of jobs finished now and then.
    public mutating func run(progress: (Double) -> Void = { _ in }) -> SimulationReport {
        for pool in setup.topology.pools {
            var register = Junction_V1_Register()
            register.poolID = pool.id
            _ = core.handle(.fromPool(peer: Array(pool.id.utf8), WireMessage(.register(register))), now: time())
        }
        for index in setup.jobs.indices {
            order += 1
            queue.insert(Event(time: arrival[index], kind: .arrival, order: order, job: index))
        }
        var done = 0
        while let event = queue.popMin() {
            now = event.time
            events += 1
            switch event.kind {
            case .arrival:
                // First come, first served: nobody overtakes a job that is waiting.
                if !waiting.isEmpty || !submit(event.job) { waiting.append(event.job) }
            case .finish:
                done += 1
                finish(event.job)
                if done % 1_000 == 0 { progress(Double(done) / Double(setup.jobs.count)) }
                var placed = 0
                while placed < waiting.count, submit(waiting[placed]) { placed += 1 }
                waiting.removeFirst(placed)
            }
        }
        return report()
    }

    private mutating func request(for index: Int) -> Junction_V1_SubmitRequest {
        let job = setup.jobs[index]
        var submit = Junction_V1_SubmitRequest()
        submit.request.ingress = job.ingress ?? setup.ingresses.randomElement(using: &rng) ?? ""
        submit.request.cpuCores = job.cpuCores
        submit.request.memoryBytes = job.memoryBytes
        submit.request.gpuCount = UInt32(job.gpuCount)
        if setup.useGPUModels { submit.request.gpuModels = job.gpuModels }
        submit.request.dataBytes = UInt64(job.dataBytes ?? setup.defaultDataBytes)
        submit.request.runtimeS = job.runtimeS
        submit.spec.command = "simulated"
        submit.spec.name = job.id
        return submit
    }

    /// Submits a job; false when no pool can take it now.
    private mutating func submit(_ index: Int) -> Bool {
        let actions = core.handle(.fromClient(ClientAddress(frames: [[0]]), WireMessage(.submit(request(for: index)))), now: time())
        var dispatched: Junction_V1_Dispatch?
        var refused: Junction_V1_ErrorReply?
        for action in actions {
            switch action {
            case .toPool(_, let message):
                if case .dispatch(let dispatch) = message.body { dispatched = dispatch }
            case .reply(_, let message):
                if case .error(let error) = message.body { refused = error }
            default:
                break
            }
        }
        guard let dispatched, let info = core.job(dispatched.jobID) else {
            if let refused, refused.code != .noPlacement || !fitsAnywhere(index) {
                neverFit += 1
                return true
            }
            return false
        }
        idOfJob[index] = dispatched.jobID
        poolOfJob[index] = info.pool
        started[index] = now
        transfer[index] = info.estimate.transferS
        distance[index] = info.estimate.latencyMs * 200
        order += 1
        queue.insert(Event(time: now + info.estimate.transferS + info.estimate.runtimeS + info.estimate.queueS, kind: .finish, order: order, job: index))
        var update = Junction_V1_JobUpdate()
        update.jobID = dispatched.jobID
        update.state = .running
        _ = core.handle(.fromPool(peer: Array(info.pool.utf8), WireMessage(.jobUpdate(update))), now: time())
        return true
    }

    /// Whether the job could fit some pool of the network if it were empty.
    private func fitsAnywhere(_ index: Int) -> Bool {
        let job = setup.jobs[index]
        return setup.topology.pools.contains { pool in
            pool.capacity.cpuCores >= job.cpuCores && pool.capacity.memoryBytes >= job.memoryBytes
                && (job.gpuCount == 0 || pool.capacity.gpus.contains { model, count in
                    count >= job.gpuCount && (!setup.useGPUModels || job.gpuModels.isEmpty || job.gpuModels.contains(model))
                })
        }
    }

    private mutating func finish(_ index: Int) {
        finished[index] = now
        guard let pool = poolOfJob[index], let id = idOfJob[index] else { return }
        var update = Junction_V1_JobUpdate()
        update.jobID = id
        update.state = .succeeded
        _ = core.handle(.fromPool(peer: Array(pool.utf8), WireMessage(.jobUpdate(update))), now: time())
    }

    private func report() -> SimulationReport {
        let completed = setup.jobs.indices.filter { finished[$0] != nil }
        let completions = completed.map { finished[$0]! - arrival[$0] }.sorted()
        func percentile(_ fraction: Double) -> Double {
            guard !completions.isEmpty else { return 0 }
            return completions[min(completions.count - 1, Int((fraction * Double(completions.count)).rounded(.up)) - 1)]
        }
        func mean(_ values: [Double]) -> Double { values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count) }
        let name: String = switch setup.policy {
        case .joint: "junction"
        case .computeOnly: "compute-only"
        case .networkOnly: "network-only"
        case .random: "random"
        }
        return SimulationReport(
            policy: name, jobs: setup.jobs.count, completed: completed.count, neverFit: neverFit,
            meanCompletionS: mean(completions), p50CompletionS: percentile(0.5), p95CompletionS: percentile(0.95), p99CompletionS: percentile(0.99),
            meanQueueS: mean(completed.map { started[$0]! - arrival[$0] }), meanTransferS: mean(completed.map { transfer[$0] }),
            gigabyteKilometres: completed.reduce(0) { $0 + (setup.jobs[$1].dataBytes ?? setup.defaultDataBytes) / 1e9 * distance[$1] },
            simulatedSeconds: now, events: events
        )
    }
}
