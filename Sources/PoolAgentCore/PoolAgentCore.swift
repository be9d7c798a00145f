import Topology
import TopologyWire
import Wire

/// What a pool agent advertises and how it paces its session.
public struct AgentConfiguration: Sendable, Hashable {
    public var poolID: String
    /// The node to attach to; empty when the topology declares the pool.
    public var node: String
    public var capacity: Resources
    public var labels: [String: String]
    /// The agent's own price list and speed; nil leaves the topology's declaration (or the
    /// controller's default) in force.
    public var price: Price?
    public var speed: Double?
    public var processingLatencyMs: Double
    /// The device index of each GPU, by model, as `nvidia-smi` numbers them. A model the
    /// capacity names and this does not gets indices after the known ones, in model order.
    public var gpuDevices: [String: [UInt32]] = [:]
    /// Whether the pool's jobs run on without this agent (a batch system holds them): said on
    /// registering, so the controller keeps them through the agent's absence.
    public var jobsOutliveAgent = false
    /// Advertise at least this often, besides when jobs start and end.
    public var advertiseEveryS: Double = 5
    public var backoffInitialS: Double = 0.5
    /// Kept short: a controller that restarts on its store wants its pools back within seconds.
    public var backoffMaxS: Double = 4
    /// Heartbeat and liveness until the controller's welcome says otherwise.
    public var heartbeatIntervalS: Double = 1
    public var livenessS: Double = 5

    public init(poolID: String, node: String = "", capacity: Resources, labels: [String: String] = [:], price: Price? = nil, speed: Double? = nil, processingLatencyMs: Double = 0) {
        self.poolID = poolID
        self.node = node
        self.capacity = capacity
        self.labels = labels
        self.price = price
        self.speed = speed
        self.processingLatencyMs = processingLatencyMs
    }

    /// Every GPU's device index by model: the detected ones, then numbers for the rest.
    public var deviceIndices: [String: [UInt32]] {
        var indices = gpuDevices
        var next = (gpuDevices.values.flatMap { $0 }.max()).map { $0 + 1 } ?? 0
        for (model, count) in capacity.gpus.sorted(by: { $0.key < $1.key }) where count > 0 {
            let known = indices[model] ?? []
            guard known.count < count else {
                indices[model] = Array(known.prefix(count))
                continue
            }
            indices[model] = known + (0..<UInt32(count - known.count)).map { next + $0 }
            next += UInt32(count - known.count)
        }
        return indices.filter { !$0.value.isEmpty && capacity.gpus[$0.key] != nil }
    }
}

/// What a pool's batch system (Slurm) says of itself: what it has, what is free now, each
/// node's size (a job runs on one node) and how long its own queue makes a job wait.
public struct PoolObservation: Sendable, Hashable {
    public var total: Resources
    public var free: Resources
    /// The size of every node that takes jobs.
    public var nodes: [Resources]
    public var queueWaitS: Double

    public init(total: Resources, free: Resources, nodes: [Resources], queueWaitS: Double) {
        self.total = total
        self.free = free
        self.nodes = nodes
        self.queueWaitS = queueWaitS
    }
}

/// A job a batch system still holds from an earlier agent of this pool, followed again.
public struct AdoptedJob: Sendable, Hashable {
    public var jobID: String
    public var spec: Junction_V1_JobSpec
    public var dispatchSequence: UInt64
    public var attempt: UInt32
    /// Whether it had started running, as far as the earlier agent knew.
    public var started: Bool
    public var output: String

    public init(jobID: String, spec: Junction_V1_JobSpec, dispatchSequence: UInt64, attempt: UInt32, started: Bool, output: String) {
        self.jobID = jobID
        self.spec = spec
        self.dispatchSequence = dispatchSequence
        self.attempt = attempt
        self.started = started
        self.output = output
    }
}

/// The GPU devices a job was given: whole GPUs, or the device of its shared GPU.
public struct GPUAssignment: Sendable, Hashable {
    /// Device indices the job holds whole, in order.
    public var devices: [UInt32] = []
    /// The device of the GPU the job shares, if it shares one.
    public var sharedDevice: UInt32?
    /// The models of the devices.
    public var models: [String] = []

    public init(devices: [UInt32] = [], sharedDevice: UInt32? = nil, models: [String] = []) {
        self.devices = devices
        self.sharedDevice = sharedDevice
        self.models = models
    }

    /// Every device the job may use.
    public var visible: [UInt32] { devices + (sharedDevice.map { [$0] } ?? []) }
}

/// Something that happened to the agent.
public enum AgentEvent: Sendable {
    /// A fresh connection to the controller is open: register on it.
    case connected
    case fromController(WireMessage)
    /// A job started; `output` is where its files are (`host:/path`).
    case jobStarted(String, output: String = "")
    case jobStartFailed(String, reason: String, poolFault: Bool = false)
    /// A job ended; `stderrTail` is the last line it wrote to its stderr.
    case jobExited(String, exitCode: Int32, usage: Junction_V1_Usage, stderrTail: String = "")
    /// The pool's batch system reported its capacity and queue.
    case observed(PoolObservation)
    case tick
}

/// What the agent's service must do.
public enum AgentAction: Sendable, Equatable {
    case send(WireMessage)
    /// Close the connection and open a new one (a new identity).
    case reconnect
    case run(jobID: String, spec: Junction_V1_JobSpec, gpus: GPUAssignment)
    /// SIGTERM now, SIGKILL after the grace period.
    case stop(jobID: String, graceS: Double)
    case log(level: String, message: String, metadata: [String: String])
    /// The controller refuses this pool for good (a key not allowed, an unknown node, an invalid
    /// id): trying again would change nothing, so the agent stops and says why.
    case giveUp(reason: String)
}

/// A pool agent as a pure state machine: a Paranoid Pirate session with the controller
/// (register, heartbeats both ways, reconnect with exponential back-off) and the jobs it runs,
/// never more than its capacity.
public struct PoolAgentCore: Sendable {
    enum Phase: Sendable {
        case waitingForWelcome(sentAt: Double)
        case registered(session: UInt64)
        case backingOff(until: Double)
    }

    struct Job: Sendable {
        var spec: Junction_V1_JobSpec
        var dispatchSequence: UInt64
        var attempt: UInt32
        var started: Bool
        var stopping: Bool
        var gpus = GPUAssignment()
        var output = ""
    }

    public let configuration: AgentConfiguration
    var phase = Phase.backingOff(until: 0)
    var heartbeatIntervalS: Double
    var livenessS: Double
    var lastHeard = 0.0
    var lastSent = 0.0
    var lastAdvertised = -Double.infinity
    var advertisementSequence: UInt64 = 0
    var dispatchSequenceApplied: UInt64 = 0
    var jobs: [String: Job] = [:]
    /// Job endings not yet told to a controller, sent again after the next welcome.
    var unreported: [String: Junction_V1_JobUpdate] = [:]
    /// Endings sent lately, with when: a controller that died meanwhile never got them, so
    /// they are sent again after the next welcome (the controller ignores a repeated ending).
    var recentEndings: [(update: Junction_V1_JobUpdate, sentAt: Double)] = []
    var failedAttempts = 0
    /// The epoch of the controller that last welcomed this agent.
    public internal(set) var controllerEpoch: UInt64 = 0
    /// The pools endpoint of the controller a standby named as the leader when it turned this
    /// agent away; empty when the last session ended otherwise. The next connection goes there.
    public internal(set) var leaderHint = ""
    /// Whether the next connection goes to the same controller: it answered and leads.
    public internal(set) var staysWithController = false
    /// What the pool's batch system last reported; nil for a pool whose capacity is configured.
    /// With one, jobs queue in the batch system: a dispatch is taken when it fits some node.
    public internal(set) var observation: PoolObservation?
    var now = 0.0
    var unixMs: Int64 = 0
    var actions: [AgentAction] = []
    let metrics: AgentMetrics

    public init(configuration: AgentConfiguration, metrics: AgentMetrics = AgentMetrics()) {
        self.configuration = configuration
        self.metrics = metrics
        heartbeatIntervalS = configuration.heartbeatIntervalS
        livenessS = configuration.livenessS
    }

    /// Whether a controller session is open.
    public var isRegistered: Bool {
        if case .registered = phase { return true }
        return false
    }

    /// Jobs the agent runs now.
    public var runningJobIDs: [String] { jobs.keys.sorted() }

    /// A job's attempt and dispatch sequence, as its dispatch numbered them.
    public func dispatchNumbers(of jobID: String) -> (attempt: UInt32, sequence: UInt64)? {
        jobs[jobID].map { ($0.attempt, $0.dispatchSequence) }
    }

    /// What the pool has: as its batch system reports it, else as configured.
    public var total: Resources { observation?.total ?? configuration.capacity }

    /// Capacity minus what running jobs hold; a GPU that jobs share is taken as a whole. With a
    /// batch system, what it reports free less what jobs still queued there will take.
    public var free: Resources {
        var free = observation?.free ?? configuration.capacity
        for job in jobs.values where observation == nil || !job.started {
            free.cpuCores = max(0, free.cpuCores - job.spec.resources.cpuCores)
            free.memoryBytes = free.memoryBytes > job.spec.resources.memoryBytes ? free.memoryBytes - job.spec.resources.memoryBytes : 0
            for (model, count) in job.spec.resources.gpus { free.gpus[model] = max(0, (free.gpus[model] ?? 0) - Int(count)) }
        }
        for (model, gpus) in sharedGPUs { free.gpus[model] = max(0, (free.gpus[model] ?? 0) - gpus.count) }
        return free
    }

    /// The part of each shared GPU in use, per model and GPU.
    public var sharedGPUs: [String: [UInt32: Double]] {
        var shared: [String: [UInt32: Double]] = [:]
        for job in jobs.values where job.spec.hasGpuShare {
            shared[job.spec.gpuShare.model, default: [:]][job.spec.gpuShare.gpu, default: 0] += job.spec.gpuShare.share
        }
        return shared
    }

    public mutating func handle(_ event: AgentEvent, now: Double, unixMs: Int64) -> [AgentAction] {
        self.now = now
        self.unixMs = unixMs
        actions = []
        switch event {
        case .connected:
            register()
        case .fromController(let message):
            lastHeard = now
            receive(message)
        case .jobStarted(let id, let output):
            guard jobs[id] != nil else { break }
            jobs[id]?.started = true
            jobs[id]?.output = output
            metrics.jobsStarted.increment()
            report(id, .running, exitCode: 0, usage: Junction_V1_Usage(), message: "", output: output)
            advertise()
        case .jobStartFailed(let id, let reason, let poolFault):
            guard let job = jobs.removeValue(forKey: id) else { break }
            report(id, .failed, exitCode: -1, usage: Junction_V1_Usage(), message: "could not start: \(reason)", attempt: job.attempt, poolFault: poolFault)
            advertise()
        case .jobExited(let id, let exitCode, let usage, let stderrTail):
            guard let job = jobs.removeValue(forKey: id) else { break }
            // A quick job can end before its start is reported: it did run, so say so first.
            if !job.started { report(id, .running, exitCode: 0, usage: Junction_V1_Usage(), message: "", attempt: job.attempt, output: job.output) }
            let state: Junction_V1_JobState = job.stopping ? .cancelled : exitCode == 0 ? .succeeded : .failed
            metrics.jobsFinished[job.stopping ? "cancelled" : exitCode == 0 ? "succeeded" : "failed"]?.increment()
            // A failure says what the job last said, and where the rest of it is.
            var words: [String] = exitCode < 0 ? ["killed by signal \(-exitCode)"] : []
            if state == .failed, !stderrTail.isEmpty { words.append("its stderr ends \"\(stderrTail)\"") }
            if state == .failed, !job.output.isEmpty { words.append("all of it in \(job.output)/stderr") }
            report(id, state, exitCode: exitCode, usage: usage, message: words.joined(separator: "; "), attempt: job.attempt, output: job.output)
            advertise()
        case .tick:
            tick()
        case .observed(let observation):
            let before = (free, self.observation?.queueWaitS)
            self.observation = observation
            if before != (free, observation.queueWaitS) { advertise() }
        }
        return actions
    }

    /// Follows jobs an earlier agent of this pool left in its batch system, before registering:
    /// the registration names them, so the controller keeps them here instead of running them again.
    public mutating func adopt(_ adopted: [AdoptedJob]) {
        for job in adopted {
            jobs[job.jobID] = Job(spec: job.spec, dispatchSequence: job.dispatchSequence, attempt: job.attempt, started: job.started, stopping: false, output: job.output)
            dispatchSequenceApplied = max(dispatchSequenceApplied, job.dispatchSequence)
        }
    }

    // MARK: Session

    private mutating func send(_ body: WireBody, correlationID: UInt64 = 0) {
        lastSent = now
        actions.append(.send(WireMessage(body, correlationID: correlationID)))
    }

    private mutating func log(_ level: String, _ message: String, _ metadata: [String: String] = [:]) {
        actions.append(.log(level: level, message: message, metadata: metadata))
    }

    private mutating func register() {
        var register = Junction_V1_Register()
        register.poolID = configuration.poolID
        register.node = configuration.node
        register.agentVersion = "1"
        register.total = total.wire
        register.labels = configuration.labels
        if let price = configuration.price { register.price = price.wire }
        register.speed = configuration.speed ?? 0
        register.runningJobs = jobs.keys.sorted().map { id in
            var running = Junction_V1_RunningJob()
            running.jobID = id
            running.state = jobs[id]!.started ? .running : .dispatched
            running.dispatchSequence = jobs[id]!.dispatchSequence
            running.attempt = jobs[id]!.attempt
            return running
        }
        register.dispatchSequenceApplied = dispatchSequenceApplied
        register.jobsOutliveAgent = configuration.jobsOutliveAgent
        phase = .waitingForWelcome(sentAt: now)
        lastHeard = now
        send(.register(register))
        log("info", "registering", ["pool": configuration.poolID, "running": "\(jobs.count)"])
    }

    /// Drops the connection and schedules a new one after the back-off, which doubles with each
    /// failure unless the controller answered (a standby turning the agent away: it is there).
    private mutating func backOff(_ reason: String, leader: String = "", answered: Bool = false, stay: Bool = false) {
        leaderHint = leader
        staysWithController = stay
        metrics.sessionsLost.increment()
        sessionLost()
        let delay = min(configuration.backoffMaxS, configuration.backoffInitialS * pow2(answered ? 0 : failedAttempts))
        if !answered { failedAttempts += 1 }
        phase = .backingOff(until: now + delay)
        log("warning", "\(reason); reconnecting in \(compactNumber(delay)) s", ["pool": configuration.poolID])
    }

    /// The session ended without a goodbye from the controller: endings sent within the last
    /// liveness window may have been lost with it.
    private mutating func sessionLost() {
        for recent in recentEndings where now - recent.sentAt <= livenessS + 1 {
            unreported[recent.update.jobID] = recent.update
        }
        recentEndings.removeAll()
    }

    private mutating func tick() {
        switch phase {
        case .backingOff(let until):
            if now >= until {
                actions.append(.reconnect)
                register()
            }
        case .waitingForWelcome(let sentAt):
            if now - sentAt > livenessS { backOff("no welcome from the controller within \(compactNumber(livenessS)) s") }
        case .registered:
            if now - lastHeard > livenessS {
                backOff("the controller has been silent for \(compactNumber(now - lastHeard)) s")
            } else {
                if now - lastAdvertised >= configuration.advertiseEveryS {
                    advertise()
                } else if now - lastSent >= heartbeatIntervalS {
                    var heartbeat = Junction_V1_Heartbeat()
                    heartbeat.timestampMs = unixMs
                    send(.heartbeat(heartbeat))
                }
            }
        }
    }

    private mutating func receive(_ message: WireMessage) {
        switch message.body {
        case .welcome(let welcome):
            if case .waitingForWelcome(let sentAt) = phase { metrics.registerRoundTrip.recordNanoseconds(Int64(max(0, now - sentAt) * 1e9)) }
            phase = .registered(session: welcome.sessionID)
            failedAttempts = 0
            if welcome.heartbeatIntervalMs > 0 { heartbeatIntervalS = Double(welcome.heartbeatIntervalMs) / 1_000 }
            if welcome.livenessMs > 0 { livenessS = Double(welcome.livenessMs) / 1_000 }
            advertisementSequence = 0
            if controllerEpoch != 0, welcome.epoch != controllerEpoch {
                log("notice", "the controller restarted", ["pool": configuration.poolID, "epoch": "\(welcome.epoch)"])
            }
            controllerEpoch = welcome.epoch
            log("info", "registered", ["pool": configuration.poolID, "node": welcome.node, "session": "\(welcome.sessionID)"])
            for id in welcome.stopJobs where jobs[id] != nil {
                jobs[id]?.stopping = true
                actions.append(.stop(jobID: id, graceS: 10))
                log("notice", "stopping a job the controller placed elsewhere", ["job": id])
            }
            for id in unreported.keys.sorted() { send(.jobUpdate(unreported[id]!)) }
            unreported = [:]
            advertise()
        case .heartbeat:
            break
        case .dispatch(let dispatch):
            receiveDispatch(dispatch)
        case .cancelJob(let cancel):
            guard jobs[cancel.jobID] != nil else { return }
            jobs[cancel.jobID]?.stopping = true
            actions.append(.stop(jobID: cancel.jobID, graceS: cancel.graceS > 0 ? cancel.graceS : 10))
        case .goodbye(let goodbye):
            backOff("the controller said goodbye: \(goodbye.reason)")
        case .error(let error):
            if error.code == .notRegistered {
                // A controller that restarted knows no sessions: register again at once. While
                // waiting for a welcome, this answers an earlier message and changes nothing.
                if isRegistered {
                    log("notice", "the controller does not know this session; registering again", ["pool": configuration.poolID])
                    sessionLost()
                    register()
                }
            } else if error.code == .conflict, !isRegistered {
                // The controller still hears this pool's previous session (this agent restarted
                // within its liveness window): try again soon rather than after a welcome timeout.
                backOff("the controller still has this pool's previous session (\(error.message))", answered: true, stay: true)
            } else if error.code == .notLeader {
                // A standby: go to the leader it names (or try another controller), jobs untouched.
                backOff("the controller stands by (\(error.message))", leader: error.leader.pools, answered: true)
            } else if !isRegistered, [.unauthorized, .unknownPool, .invalidRequest].contains(error.code) {
                actions.append(.giveUp(reason: "the controller refuses pool \(configuration.poolID): \(error.message)"))
            } else {
                log("warning", "the controller reports an error: \(error.message)", ["pool": configuration.poolID])
            }
        default:
            log("warning", "ignored \(message.kind) from the controller")
        }
    }

    private mutating func receiveDispatch(_ dispatch: Junction_V1_Dispatch) {
        var ack = Junction_V1_DispatchAck()
        ack.jobID = dispatch.jobID
        ack.dispatchSequence = dispatch.dispatchSequence
        ack.attempt = dispatch.attempt
        if let running = jobs[dispatch.jobID] {
            // A repeated dispatch: answer again, never run a second copy. A newer attempt of a job
            // still running here is that same run: it reports under the new attempt from now on.
            if dispatch.attempt > running.attempt { jobs[dispatch.jobID]?.attempt = dispatch.attempt }
            ack.accepted = true
            send(.dispatchAck(ack))
            return
        }
        let asked = Resources(
            cpuCores: dispatch.spec.resources.cpuCores, memoryBytes: dispatch.spec.resources.memoryBytes,
            gpus: dispatch.spec.resources.gpus.mapValues { Int($0) }
        )
        var shortage: String?
        if let observation {
            shortage = batchShortage(dispatch.spec, asked: asked, nodes: observation.nodes)
        } else {
            shortage = shortageNow(dispatch.spec, asked: asked)
        }
        if dispatch.spec.command.isEmpty { shortage = "the job has no command" }
        var gpus = GPUAssignment()
        if shortage == nil, observation == nil {
            // A batch system gives devices itself; here the agent does.
            switch assignDevices(dispatch.spec) {
            case .success(let assigned): gpus = assigned
            case .failure(let failure): shortage = failure.reason
            }
        }
        if let shortage {
            ack.accepted = false
            ack.reason = shortage
            send(.dispatchAck(ack))
            log("notice", "refused a dispatch: \(shortage)", ["job": dispatch.jobID])
            return
        }
        jobs[dispatch.jobID] = Job(spec: dispatch.spec, dispatchSequence: dispatch.dispatchSequence, attempt: dispatch.attempt, started: false, stopping: false, gpus: gpus)
        dispatchSequenceApplied = max(dispatchSequenceApplied, dispatch.dispatchSequence)
        ack.accepted = true
        send(.dispatchAck(ack))
        actions.append(.run(jobID: dispatch.jobID, spec: dispatch.spec, gpus: gpus))
        log("info", "running a job along \(dispatch.path.joined(separator: " → "))", ["job": dispatch.jobID, "attempt": "\(dispatch.attempt)"])
    }

    /// What keeps a job from running here now; nil when it fits what is free.
    private func shortageNow(_ spec: Junction_V1_JobSpec, asked: Resources) -> String? {
        let available = free
        var shortage: String?
        if asked.cpuCores > available.cpuCores + 1e-9 {
            shortage = "\(compactNumber(available.cpuCores)) cores free, \(compactNumber(asked.cpuCores)) asked"
        } else if asked.memoryBytes > available.memoryBytes {
            shortage = "\(available.memoryBytes >> 20) MiB free, \(asked.memoryBytes >> 20) MiB asked"
        } else if let model = asked.gpus.first(where: { $0.value > (available.gpus[$0.key] ?? 0) }) {
            shortage = "\(available.gpus[model.key] ?? 0) \(model.key) free, \(model.value) asked"
        } else if spec.hasGpuShare {
            let share = spec.gpuShare
            if !(share.share > 0 && share.share < 1) {
                shortage = "a GPU share must be above 0 and below 1, not \(share.share)"
            } else if let used = sharedGPUs[share.model]?[share.gpu] {
                if used + share.share > 1 + 1e-9 { shortage = "shared \(share.model) \(share.gpu) has \(compactNumber(1 - used)) free, \(compactNumber(share.share)) asked" }
            } else if (available.gpus[share.model] ?? 0) < 1 {
                shortage = "no \(share.model) free to share"
            }
        }
        return shortage
    }

    /// What keeps a job from ever running in the batch system; nil when some node can take it
    /// (it may wait in the batch system's queue for room there).
    private func batchShortage(_ spec: Junction_V1_JobSpec, asked: Resources, nodes: [Resources]) -> String? {
        if spec.hasGpuShare { return "this pool's batch system gives whole GPUs only, not a share of one" }
        guard !nodes.contains(where: { asked.fits(in: $0) }) else { return nil }
        guard let largest = nodes.max(by: { ($0.cpuCores, $0.memoryBytes) < ($1.cpuCores, $1.memoryBytes) }) else {
            return "the batch system has no node that takes jobs"
        }
        let gpus = asked.gpus.filter { $0.value > 0 }.map { "\($0.value) \($0.key)" }.sorted()
        let wanted = (["\(compactNumber(asked.cpuCores)) cores", "\(asked.memoryBytes >> 20) MiB"] + gpus).joined(separator: ", ")
        let had = (["\(compactNumber(largest.cpuCores)) cores", "\(largest.memoryBytes >> 20) MiB"] + largest.gpus.map { "\($0.value) \($0.key)" }.sorted()).joined(separator: ", ")
        return "no node of the batch system has \(wanted) (the largest has \(had))"
    }

    private mutating func report(_ id: String, _ state: Junction_V1_JobState, exitCode: Int32, usage: Junction_V1_Usage, message: String, attempt: UInt32? = nil, output: String = "", poolFault: Bool = false) {
        var update = Junction_V1_JobUpdate()
        update.poolFault = poolFault
        update.jobID = id
        update.output = output
        update.attempt = attempt ?? jobs[id]?.attempt ?? 0
        update.state = state
        update.exitCode = exitCode
        update.usage = usage
        update.message = message
        update.timestampMs = unixMs
        if isRegistered {
            send(.jobUpdate(update))
            if state != .running {
                recentEndings.removeAll { now - $0.sentAt > 2 * livenessS + 1 }
                recentEndings.append((update, now))
            }
        } else if state != .running {
            unreported[id] = update
        }
    }

    private mutating func advertise() {
        guard isRegistered else { return }
        advertisementSequence += 1
        var advertisement = Junction_V1_Advertisement()
        advertisement.poolID = configuration.poolID
        advertisement.sequence = advertisementSequence
        advertisement.timestampMs = unixMs
        advertisement.free = free.wire
        advertisement.total = total.wire
        advertisement.queueWaitS = observation?.queueWaitS ?? 0
        advertisement.processingLatencyMs = configuration.processingLatencyMs
        advertisement.speed = configuration.speed ?? 0
        advertisement.labels = configuration.labels
        advertisement.dispatchSequenceApplied = dispatchSequenceApplied
        advertisement.runningJobs = UInt32(jobs.count)
        lastAdvertised = now
        send(.advertisement(advertisement))
    }
}

private func pow2(_ exponent: Int) -> Double {
    Double(1 << min(exponent, 30))
}

/// Why a job's GPUs could not be given.
struct DeviceShortage: Error {
    var reason: String
}

extension PoolAgentCore {
    /// Devices held by running jobs: whole, and each shared GPU's device by model and share slot.
    var heldDevices: (whole: Set<UInt32>, shared: [String: [UInt32: UInt32]]) {
        var whole = Set<UInt32>()
        var shared: [String: [UInt32: UInt32]] = [:]
        for job in jobs.values {
            whole.formUnion(job.gpus.devices)
            if let device = job.gpus.sharedDevice { shared[job.spec.gpuShare.model, default: [:]][job.spec.gpuShare.gpu] = device }
        }
        return (whole, shared)
    }

    /// The devices a job gets: for each model it asks whole GPUs of, the lowest-numbered free
    /// ones; for a share, the device its shared GPU is on already, or a free one. No device is
    /// given whole to two jobs, nor whole to one and shared with another.
    func assignDevices(_ spec: Junction_V1_JobSpec) -> Result<GPUAssignment, DeviceShortage> {
        let indices = configuration.deviceIndices
        let held = heldDevices
        let taken = held.whole.union(held.shared.values.flatMap(\.values))
        var assignment = GPUAssignment()
        for (model, count) in spec.resources.gpus.sorted(by: { $0.key < $1.key }) where count > 0 {
            let free = (indices[model] ?? []).filter { !taken.contains($0) }
            guard free.count >= Int(count) else {
                return .failure(DeviceShortage(reason: "\(free.count) \(model) device\(free.count == 1 ? "" : "s") free, \(count) asked"))
            }
            assignment.devices += free.prefix(Int(count))
            assignment.models.append(model)
        }
        if spec.hasGpuShare {
            let share = spec.gpuShare
            if let device = held.shared[share.model]?[share.gpu] {
                assignment.sharedDevice = device
            } else if let device = (indices[share.model] ?? []).first(where: { !taken.contains($0) && !assignment.devices.contains($0) }) {
                assignment.sharedDevice = device
            } else {
                return .failure(DeviceShortage(reason: "no \(share.model) device free to share"))
            }
            if !assignment.models.contains(share.model) { assignment.models.append(share.model) }
        }
        return .success(assignment)
    }
}
