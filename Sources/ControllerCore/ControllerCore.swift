import DequeModule
import HeapModule
import Placement
import Routing
import Topology

/// The time as the controller core sees it: a monotonic clock for intervals, and the wall clock
/// for timestamps in messages.
public struct ControllerTime: Sendable, Hashable {
    public var seconds: Double
    public var unixMs: Int64

    public init(seconds: Double, unixMs: Int64) {
        self.seconds = seconds
        self.unixMs = unixMs
    }
}

/// How the controller paces sessions and jobs.
public struct ControllerConfiguration: Sendable, Hashable {
    public var heartbeatIntervalMs: UInt32 = 1_000
    /// A pool silent this long is down; `UInt32.max` never (a simulation's pools speak only
    /// when it says).
    public var livenessMs: UInt32 = 5_000
    /// A dispatch without an answer this long is placed again.
    public var dispatchTimeoutS: Double = 5
    /// Placements per job before it fails.
    public var maxAttempts: UInt32 = 3
    /// Safety net: a lease not released by then is freed, unless its pool holds its job (then it
    /// runs this long again).
    public var leaseTTLS: Double = 7 * 86_400
    public var staleAfterS: Double = 15
    public var cancelGraceS: Double = 10
    /// How submitted jobs are placed: jointly, or by a one-sided baseline (for simulations).
    public var policy: Policy = .joint
    /// Whether a submit nothing can take is answered with every pool's reason (a second search).
    public var explainRefusals = true
    /// How long an accepted job may wait for a pool before it fails, unless its submit says.
    public var placementDeadlineS: Double = 3_600
    /// How long a pool that lost or refused a job stays excluded for that job.
    public var exclusionS: Double = 300
    /// How long a finished job stays in memory; after that it is served from the store.
    public var finishedRetentionS: Double = 300
    /// How long an idempotency key returns its job.
    public var idempotencyWindowS: Double = 86_400
    /// Extra time, beyond the liveness window, that a restarted controller gives pools to come
    /// back and report the jobs the store says they run.
    public var recoveryGraceS: Double = 5
    /// How long a batch pool's jobs (its agent registered with `jobs_outlive_agent`) stay on it
    /// after its session is lost, for an agent to come back and report them; 0 places them again
    /// at once, as for any pool.
    public var batchGraceS: Double = 600
    /// Jobs per page of a status, snapshot, pools or routes reply when the request names no limit.
    public var pageLimit = 500
    /// Log lines below this level are dropped in the core: a busy controller logs every transition.
    public var logLevel: LogEntry.Level = .debug
    /// Who may do what; nil lets every peer do everything (a controller on loopback, or insecure).
    public var access: AccessPolicy?
    /// The topology files a reload request may name (its own file is always one); nil for any.
    public var reloadablePaths: Set<String>?
    /// Requests a second one client connection may send, on average; 0 takes every request.
    public var clientRequestsPerSecond: Double = 10_000
    /// Requests one connection may send at once beyond that rate.
    public var clientRequestBurst: Double = 20_000
    /// Advertisements a pool's session may apply a second on average (0: every one); beyond it
    /// only the newest waits, and is applied when the allowance refills.
    public var advertisementsPerSecond: Double = 10
    public var advertisementBurst: Double = 20
    /// Flap dampening: every loss of a pool's session adds 1 to its penalty, which halves every
    /// `flapHalfLifeS`. A pool registering with a penalty of `flapSuppressAt` or more (0: never)
    /// gets no new work until it decays below `flapReuseBelow`: by default, three losses within
    /// about 15 s dampen a pool for about 80 s, and a pool that keeps flapping for at most 140 s.
    public var flapHalfLifeS: Double = 60
    public var flapSuppressAt: Double = 2.5
    public var flapReuseBelow: Double = 1
    /// How far ahead, in seconds, a job with no room now may be planned to start on a pool; 0
    /// refuses a submit that fits nowhere now.
    public var planHorizonS: Double = 86_400
    /// The runtime a plan assumes for a job whose submit gives none.
    public var defaultRuntimeS: Double = 3_600
    /// How many times a planned job may move to another pool for an earlier completion.
    public var maxPlanMoves: UInt32 = 3
    /// Planned jobs looked at again per tick after capacity came free sooner than planned.
    public var plansRevisedPerTick = 256
    /// Waiting jobs are tried again in order each tick until this many found nothing, so a long
    /// line costs a bounded pass; the rest are tried once those ahead of them have gone.
    public var waitingMissesPerTick = 16
    /// Whether a submit no pool can take now or within the plan horizon is accepted to wait for
    /// one (until its placement deadline) rather than refused; the simulator's choice.
    public var queueUnplaceable = false

    public init() {}
}

/// Who to answer on the clients endpoint: the ROUTER frames before the payload (the peer's
/// identity, and the empty delimiter a REQ peer adds).
public struct ClientAddress: Sendable, Hashable {
    public var frames: [[UInt8]]

    public init(frames: [[UInt8]]) {
        self.frames = frames
    }
}

/// The endpoint a message came in on.
public enum Endpoint: String, Sendable, Hashable {
    case pools, clients
}

/// Something that happened, for the controller core to act on.
public enum ControllerEvent: Sendable {
    /// A pool agent's message on its connection, with the correlation id to answer under, and
    /// the name of the key it authenticated with (nil without authentication).
    case fromPool(peer: [UInt8], correlationID: UInt64, PoolMessage, caller: String? = nil)
    case fromClient(ClientAddress, correlationID: UInt64, ClientRequest, caller: String? = nil)
    /// A read-only request from inside the controller's process (its admin endpoint), answered
    /// like a client's with the observer role; any other request is refused.
    case observe(ClientAddress, correlationID: UInt64, ClientRequest)
    /// Frames that are not a message of the protocol.
    case undecodable(Endpoint, ClientAddress, UndecodableMessage)
    /// Time passed: liveness, heartbeats, dispatch timeouts, lease expiry.
    case tick
    /// The topology file asked for was read and is valid.
    case topologyLoaded(Topology, path: String, replyTo: ClientAddress?, correlationID: UInt64)
    case topologyRejected(problems: [String], path: String, replyTo: ClientAddress?, correlationID: UInt64)
    /// A link of the running topology went down or up, or changed capacity.
    case linkChanged(LinkChange)
    /// The first subscriber to an events topic came, or the last one left: route tables are
    /// followed while someone subscribes to their `route/<ingress>` topic.
    case subscription(topic: String, subscribed: Bool)
}

/// A change to one link of the running topology.
public struct LinkChange: Sendable, Hashable {
    /// The link's id in the topology.
    public var link: String
    /// Up or down; nil keeps its state.
    public var up: Bool?
    /// New capacity in Gbps; nil keeps it.
    public var capacityGbps: Double?

    public init(link: String, up: Bool? = nil, capacityGbps: Double? = nil) {
        self.link = link
        self.up = up
        self.capacityGbps = capacityGbps
    }
}

/// A line for the log, with pool and job ids as metadata.
public struct LogEntry: Sendable, Hashable {
    /// How much the line matters, as swift-log's levels.
    public enum Level: String, Sendable, Hashable, Comparable, CaseIterable {
        case debug, info, notice, warning, error

        private var rank: Int {
            switch self {
            case .debug: 0
            case .info: 1
            case .notice: 2
            case .warning: 3
            case .error: 4
            }
        }

        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rank < rhs.rank }
    }

    public var level: Level
    public var message: String
    public var metadata: [String: String]
}

/// What the service must do for the core.
public enum ControllerAction: Sendable {
    case toPool(peer: [UInt8], correlationID: UInt64, PoolCommand)
    case reply(ClientAddress, correlationID: UInt64, ClientReply)
    case publish(ControllerNotice)
    /// Store the job's state durably before anything that relies on it leaves the process.
    case persist(StoredJob)
    /// Answer a client from the store, after this batch is committed (finished jobs leave memory).
    case query(StoreQuery, ClientAddress, correlationID: UInt64)
    /// Read and validate a topology file, then send `topologyLoaded` or `topologyRejected`.
    case loadTopology(path: String, replyTo: ClientAddress?, correlationID: UInt64)
    case log(LogEntry)
}

/// A pool agent's session.
struct Session: Sendable {
    var peer: [UInt8]
    var id: UInt64
    var lastHeard: Double
    var lastSent: Double
    /// A batch pool's: its jobs run on when the agent is gone.
    var jobsOutliveAgent = false
}

/// Where a dispatch that timed out went.
struct UnansweredDispatch: Sendable {
    var pool: String
    var path: [String]
    var sequence: UInt64
    var attempt: UInt32
}

/// A value kept out of line and copied on write. A job's larger parts live so, to keep a job
/// small where the controller holds a hundred thousand of them: growing the jobs dictionary then
/// moves and zeroes about 400 bytes a job instead of a kilobyte.
@propertyWrapper
struct OutOfLine<Value: Sendable>: Sendable {
    // @unchecked: a box is changed only while uniquely referenced, so no two values share a change.
    private final class Box: @unchecked Sendable {
        var value: Value
        init(_ value: Value) { self.value = value }
    }

    private var box: Box

    init(wrappedValue: Value) {
        box = Box(wrappedValue)
    }

    var wrappedValue: Value {
        get { box.value }
        set {
            if isKnownUniquelyReferenced(&box) { box.value = newValue } else { box = Box(newValue) }
        }
        _modify {
            if !isKnownUniquelyReferenced(&box) { box = Box(box.value) }
            yield &box.value
        }
    }
}

/// A job as the controller tracks it.
struct Job: Sendable {
    var id: String
    @OutOfLine var spec: JobSpec
    @OutOfLine var request: PlacementRequest
    var state: JobState = .accepted
    var pool: String?
    var path: [String] = []
    @OutOfLine var estimate: Estimate?
    var lease: UInt64?
    var dispatchSequence: UInt64 = 0
    var dispatchedAt: Double = 0
    var attempts: UInt32 = 0
    var exitCode: Int32 = 0
    var usage: JobUsage?
    var message = ""
    var submittedMs: Int64
    var updatedMs: Int64
    var history: [JobTransition] = []
    /// Where its files are on its pool, as the pool reported.
    var output = ""
    var charge: JobCharge?
    var dispatchPrice: Price?
    var cancelRequested = false
    /// Submission order; the id is `job-<number>`.
    var number: UInt64 = 0
    var idempotencyKey = ""
    /// Pools the job may not use until the given time (monotonic seconds).
    var exclusions: [String: Double] = [:]
    /// When an accepted job that found no pool fails.
    var placementDeadline: Double?
    /// The pool whose running count includes this job.
    var countedOn: String?
    /// Its place in a pool's plan, while it waits for its planned start.
    @OutOfLine var plan: JobPlan?
    /// How many times its plan moved it to another pool.
    var moves: UInt32 = 0
    /// The dispatch that went unanswered past the timeout: a yes that comes later from that
    /// pool, while the job still waits, keeps the job there.
    var unansweredDispatch: UnansweredDispatch?

    var mayRunTwice: Bool { spec.delivery != .atMostOnce }

    var isFinished: Bool { state.isFinished }

    var view: JobView {
        var view = JobView(
            id: id, state: state, pool: pool ?? "", path: path, estimate: estimate, exitCode: exitCode, usage: usage,
            attempts: attempts, message: message, submittedMs: submittedMs, updatedMs: updatedMs, spec: spec, history: history, output: output, charge: charge, dispatchPrice: dispatchPrice
        )
        if pool == nil, let plan {
            view.pool = plan.hold.pool
            view.path = plan.candidate.path
            view.estimate = plan.candidate.estimate
            view.plannedStartMs = plan.startMs
        }
        return view
    }
}

/// The controller as a pure state machine: `handle(event, now)` returns the actions to carry
/// out (messages to send, events to publish, jobs to persist, lines to log). It does no I/O.
public struct ControllerCore: Sendable {
    public internal(set) var engine: PlacementEngine
    public let configuration: ControllerConfiguration
    var sessions: [String: Session] = [:]
    var poolOfPeer: [[UInt8]: String] = [:]
    var jobs: [String: Job] = [:]
    /// Jobs not finished, so periodic work does not walk every job ever submitted.
    var activeJobs: Set<String> = []
    /// Active jobs in submission order, with finished ones left in until the next compaction:
    /// ids are taken in increasing order and a finished job never becomes active again.
    var activeOrder: [String] = []
    /// Accepted jobs waiting for a pool with room.
    var waitingJobs: [String] = []
    var idempotency: [String: String] = [:]
    /// Idempotency keys in the order they expire.
    var idempotencyExpiry: [(key: String, at: Double)] = []
    /// Whether something changed that waiting jobs may need: they are tried again on the next tick.
    var waitingDirty = false
    /// Planned jobs by planned start; an entry whose job has since moved on is skipped.
    var planStarts = Heap<PlanStart>()
    /// Whether capacity came free sooner than planned: plans are looked at again on the next tick.
    var plansDirty = false
    /// The submission number a revision pass cut short by its bound goes on after.
    var revisedUpTo: UInt64 = 0
    /// Dispatches in the order they were sent, which is the order they time out in; an entry
    /// whose job has since answered or moved on is dropped when it reaches the front.
    var unanswered: Deque<(id: String, attempt: UInt32, at: Double)> = []
    /// Recovered jobs their pool has not reported yet, with when they are placed again if it has not.
    var awaitingReport: [String: Double] = [:]
    /// Why a job there is placed again if its report does not come (when not said: its pool
    /// did not report it after the controller restarted).
    var awaitingBecause: [String: String] = [:]
    var nextJobNumber: UInt64 = 1
    /// Until when, after a start on a store, pools may still be on their way back: a submit
    /// that fits nowhere meanwhile waits for them instead of being refused.
    var rejoinUntil = -Double.infinity
    var nextSessionID: UInt64 = 1
    var dispatchSequences: [String: UInt64] = [:]
    /// Pools whose dispatch sequence changed since the store last took the counters.
    var changedSequences: Set<String> = []
    /// How far the store's event sequence and each pool's dispatch sequence reach: a restart
    /// continues after them, so these are handed out without a write until used up.
    var reservedEventSequence: UInt64 = 0
    var reservedDispatchSequences: [String: UInt64] = [:]
    /// Jobs dispatched to or running on each pool.
    var onPool: [String: Set<String>] = [:]
    /// Finished jobs still in memory, in the order they finished, with when (monotonic seconds).
    var finishedOrder: [(id: String, at: Double)] = []
    var finishedHead = 0
    public internal(set) var eventSequence: UInt64 = 0
    /// Increases every time a controller starts on its store; tells agents and observers.
    public internal(set) var epoch: UInt64 = 1
    /// Messages dropped, by reason: malformed, unknown, stale advertisements, ...
    public internal(set) var dropped: [String: Int] = [:]
    /// Advertisements applied to the engine.
    public internal(set) var advertisementsApplied = 0
    var time = ControllerTime(seconds: 0, unixMs: 0)
    var actions: [ControllerAction] = []
    var metrics: ControllerMetrics
    /// Routing tables of the ingresses someone subscribes to, as last published.
    var watchedRoutes: [String: WatchedRoutes] = [:]
    /// Each client connection's request allowance, by its address.
    var clientAllowances: [ClientAddress: TokenBucket] = [:]
    var allowancesSweptAt = 0.0
    /// Each pool session's advertisement allowance, and the newest advertisement over it.
    var advertisementAllowances: [String: TokenBucket] = [:]
    var heldAdvertisements: [String: PoolReport] = [:]
    /// Pools lost lately, with their flap penalty; and the pools dampened for it.
    var flapPenalties: [String: FlapPenalty] = [:]
    var dampenedPools: Set<String> = []

    public init(topology: Topology, configuration: ControllerConfiguration = ControllerConfiguration(), metrics: ControllerMetrics = ControllerMetrics()) {
        var engine = PlacementEngine(topology: topology, declaredLiveness: .declared)
        engine.staleAfterS = configuration.staleAfterS
        engine.defaultRuntimeS = configuration.defaultRuntimeS
        self.engine = engine
        self.configuration = configuration
        self.metrics = metrics
    }

    /// Active jobs in submission order.
    var activeInOrder: [String] {
        activeOrder.filter { activeJobs.contains($0) }
    }

    /// Marks a job active or not, keeping `activeOrder` at most about twice the active count.
    mutating func setActive(_ id: String, _ active: Bool) {
        if active {
            if activeJobs.insert(id).inserted { activeOrder.append(id) }
        } else if activeJobs.remove(id) != nil, activeOrder.count > 2 * activeJobs.count + 64 {
            let active = activeJobs
            activeOrder.removeAll { !active.contains($0) }
        }
    }

    /// One job as clients see it, if the core holds it.
    public func job(_ id: String) -> JobView? { jobs[id]?.view }

    /// How many jobs the core holds in memory: active ones and recently finished ones.
    public var jobsInMemory: Int { jobs.count }

    /// Acts on one event at `now` and returns what must be done, in order.
    public mutating func handle(_ event: ControllerEvent, now: ControllerTime) -> [ControllerAction] {
        var output: [ControllerAction] = []
        handle(event, now: now, into: &output)
        return output
    }

    /// Acts on one event at `now` and appends what must be done to `output`, in order: a loop that
    /// handles a batch keeps one buffer instead of copying each event's actions into it.
    public mutating func handle(_ event: ControllerEvent, now: ControllerTime, into output: inout [ControllerAction]) {
        time = now
        swap(&actions, &output)
        defer { swap(&actions, &output) }
        switch event {
        case .fromPool(let peer, let correlationID, let message, let caller):
            handlePool(peer: peer, correlationID: correlationID, message, caller: caller)
        case .fromClient(let address, let correlationID, let request, let caller):
            if !admit(address) {
                count("clients.rate_limited")
                let rate = compactNumber(configuration.clientRequestsPerSecond)
                actions.append(.reply(address, correlationID: correlationID, .error(ControllerError(.rateLimited, "this connection sent more than \(rate) requests a second; retry later"))))
            } else if let refusal = refusal(of: request, from: caller) {
                count("clients.unauthorized")
                log(.warning, refusal.message, ["key": caller ?? "-"])
                actions.append(.reply(address, correlationID: correlationID, .error(refusal)))
            } else {
                handleClient(address, correlationID: correlationID, request, caller: caller)
            }
        case .observe(let address, let correlationID, let request):
            if request.neededRole == .observer {
                handleClient(address, correlationID: correlationID, request)
            } else {
                actions.append(.reply(address, correlationID: correlationID, .error(ControllerError(.unauthorized, "the admin endpoint is read-only"))))
            }
        case .undecodable(let endpoint, let address, let message):
            count("\(endpoint.rawValue).\(message.reason)")
            log(.debug, "dropped an undecodable message on \(endpoint.rawValue): \(message.detail)")
            if let answer = message.answer {
                switch endpoint {
                case .pools: actions.append(.toPool(peer: address.frames.first ?? [], correlationID: message.correlationID, .error(answer)))
                case .clients: actions.append(.reply(address, correlationID: message.correlationID, .error(answer)))
                }
            }
        case .tick:
            tick()
        case .linkChanged(let change):
            _ = changeLink(change)
        case .subscription(let topic, let subscribed):
            routeSubscription(topic, subscribed: subscribed)
        case .topologyLoaded(let topology, let path, let replyTo, let correlationID):
            reload(topology, path: path, replyTo: replyTo, correlationID: correlationID)
        case .topologyRejected(let problems, let path, let replyTo, let correlationID):
            log(.warning, "topology \(path) rejected; the running topology stays in force", ["problems": "\(problems.count)"])
            // Each problem on its own line, so the operator sees what to fix without another tool.
            for problem in problems.prefix(50) { log(.warning, problem, ["path": path]) }
            if problems.count > 50 { log(.warning, "and \(problems.count - 50) more problems", ["path": path]) }
            if let replyTo {
                let result = AdminResult(ok: false, message: "\(path) is not valid; nothing changed", problems: problems)
                actions.append(.reply(replyTo, correlationID: correlationID, .admin(result)))
            }
        }
    }

    // MARK: Helpers

    mutating func log(_ level: LogEntry.Level, _ message: String, _ metadata: [String: String] = [:]) {
        guard level >= configuration.logLevel else { return }
        actions.append(.log(LogEntry(level: level, message: message, metadata: metadata)))
    }

    mutating func count(_ reason: String) {
        dropped[reason, default: 0] += 1
        metrics.drop(reason)
    }

    mutating func sendPool(_ pool: String, _ command: PoolCommand) {
        guard var session = sessions[pool] else { return }
        session.lastSent = time.seconds
        sessions[pool] = session
        actions.append(.toPool(peer: session.peer, correlationID: 0, command))
    }

    /// Tells a pool to stop a job it should no longer run.
    mutating func stopOnPool(_ pool: String, _ id: String) {
        sendPool(pool, .cancel(jobID: id, graceS: configuration.cancelGraceS))
    }

    /// Converts the engine's monotonic seconds into Unix milliseconds for messages.
    func unixMs(_ seconds: Double) -> Int64 {
        time.unixMs - Int64(((time.seconds - seconds) * 1_000).rounded())
    }

    mutating func publish(_ kind: ControllerNotice.Kind) {
        eventSequence += 1
        actions.append(.publish(ControllerNotice(sequence: eventSequence, epoch: epoch, timestampMs: time.unixMs, kind: kind)))
    }

    func runningJobs(on pool: String) -> Int {
        onPool[pool]?.count ?? 0
    }

    /// Moves a job's place in the per-pool running counts to where its state now puts it.
    mutating func countRunning(_ id: String) {
        // Through the index, so the job is neither copied out nor written back whole.
        guard let entry = jobs.index(forKey: id) else { return }
        let state = jobs.values[entry].state
        let counted = (state == .dispatched || state == .running) ? jobs.values[entry].pool : nil
        let old = jobs.values[entry].countedOn
        guard counted != old else { return }
        if let old { onPool[old]?.remove(id) }
        if let counted { onPool[counted, default: []].insert(id) }
        jobs.values[entry].countedOn = counted
    }

    func poolView(_ state: PoolState) -> PoolView {
        let held = engine.held(on: state.id)
        return PoolView(
            state: state, node: engine.topology.nodes[state.node].id, runningJobs: runningJobs(on: state.id),
            lastAdvertisementMs: state.lastAdvertisement.map { unixMs($0) } ?? 0, held: held.resources, heldGPUShare: held.gpuShare
        )
    }

    mutating func publishPool(_ pool: String, reason: String) {
        guard let state = engine.pool(pool) else { return }
        publish(.pool(poolView(state), reason: reason))
    }
}

