import CoreMetrics
import Foundation
import Logging
import Observability
import PoolAgentCore
import ServiceLifecycle
import Synchronization
import Topology
import Wire
import ZeroMQ

/// What reaches the agent's loop thread from elsewhere.
enum AgentInput: Sendable {
    /// Messages from the controller on the connection of the given generation.
    case received([Delivery], generation: Int)
    /// What the executor reports: a job started, could not start or ended; the pool's capacity.
    case executor(ExecutorEvent)
    /// Stop the jobs, say goodbye, close the connection; then resume the waiter.
    case shutdown(@Sendable () -> Void)
    /// Open the first connection and register; the result goes to the closure.
    case start(@Sendable (Result<Void, any Error>) -> Void)
    /// Look at the core on its own thread.
    case inspect(@Sendable (PoolAgentCore) -> Void)
}

/// Where a loop will be, for code created before it (the executor's callbacks): what is
/// injected before the loop exists waits for it.
final class LoopReference: Sendable {
    private let state = Mutex<(loop: SocketLoop?, early: [any Sendable])>((nil, []))

    func inject(_ value: any Sendable) {
        let loop = state.withLock { state in
            if state.loop == nil { state.early.append(value) }
            return state.loop
        }
        loop?.inject(value)
    }

    /// Sets the loop and hands it what came before.
    func attach(_ loop: SocketLoop) {
        let early = state.withLock { state in
            state.loop = loop
            defer { state.early = [] }
            return state.early
        }
        for value in early { loop.inject(value) }
    }
}

/// The agent core and its connection, owned by the agent's loop thread: controller messages, job
/// exits, ticks and shutdown all reach the core there, one at a time.
final class AgentOwner: @unchecked Sendable {
    // @unchecked: `core`, `connection`, `generation`, `stopped` and `running` are touched only
    // on the agent's loop thread; the rest are constants.
    private var core: PoolAgentCore
    private var connection: SocketLoop?
    /// Counts connections, so messages a replaced connection delivered late are dropped.
    private var generation = 0
    private var stopped = false
    /// Ticks mean nothing until the first connection is open.
    private var running = false
    private let context: Context
    /// The controllers' pools endpoints: one, or several sharing a store, of which one leads.
    private let controllers: [String]
    /// The one the connection goes to now.
    private var current = 0
    /// Controllers that went silent on this agent, and when: a standby still names a leader
    /// that died until its lease runs out, and that word is not taken for a while.
    private var silentAt: [Int: ContinuousClock.Instant] = [:]
    private let curve: CurveClientKeys?
    private let refused: AsyncStream<String>.Continuation
    let logger: Logger
    let executor: any JobExecutor
    private let executorErrors: CoreMetrics.Counter
    /// This machine's name, for where a job's files are (gethostname: no name service asked).
    private let hostName = Services.hostName()
    private let clock = ContinuousClock()
    private let started: ContinuousClock.Instant
    /// The loop that owns this, set once it exists: connections hand their messages to it.
    let loop = LoopReference()

    init(core: PoolAgentCore, context: Context, controllers: [String], curve: CurveClientKeys?, executor: any JobExecutor, logger: Logger, metrics: any MetricsFactory, refused: AsyncStream<String>.Continuation) {
        executorErrors = CoreMetrics.Counter(label: "junction_agent_executor_errors_total", factory: metrics)
        self.refused = refused
        self.core = core
        self.context = context
        self.controllers = controllers
        self.curve = curve
        self.executor = executor
        self.logger = logger
        started = clock.now
    }

    /// Handles what woke the loop; the agent loop has no sockets of its own to answer on.
    func wake(_ wake: LoopWake) -> [(socket: Int, message: Message)] {
        for input in wake.injected {
            switch input as? AgentInput {
            case .received(let batch, let generation):
                guard generation == self.generation else { continue }
                for delivery in batch {
                    guard let payload = delivery.message.frames.last else { continue }
                    do {
                        handle(.fromController(try WireMessage(bytes: payload)))
                    } catch {
                        logger.warning("dropped an undecodable message from the controller: \(error)")
                    }
                }
            case .executor(.exited(let exit)):
                handle(.jobExited(exit.jobID, exitCode: exit.exitCode, usage: exit.usage, stderrTail: exit.exitCode == 0 ? "" : executor.stderrTail(of: exit.jobID)))
            case .executor(.started(let jobID)):
                handle(.jobStarted(jobID, output: output(of: jobID)))
            case .executor(.startFailed(let jobID, let reason)):
                executorErrors.increment()
                handle(.jobStartFailed(jobID, reason: reason))
            case .executor(.observed(let observation)):
                handle(.observed(observation))
            case .shutdown(let done):
                shutdown()
                done()
            case .start(let done):
                done(Result { try start() })
            case .inspect(let body):
                body(core)
            case nil:
                logger.error("the agent's loop was handed an unknown input: \(type(of: input))")
            }
        }
        if wake.tickDue, running, !stopped { handle(.tick) }
        return []
    }

    /// Opens the first connection and registers on it.
    private func start() throws {
        try connect()
        running = true
        handle(.connected)
    }

    private func connect() throws {
        var options: [SocketOption] = [.immediate(false), .reconnectInterval(milliseconds: 250), .reconnectIntervalMax(milliseconds: 1_000)]
        if let curve {
            options += curve.socketOptions
        }
        generation += 1
        let generation = self.generation
        let controller = controllers[current]
        // The connection's thread only hands batches over; the core stays on this loop.
        let connection = try SocketLoop(context: context, sockets: [SocketSpec(.dealer, options: options, connect: [controller], lingerMilliseconds: 200)], name: "pool-agent-connection", handler: { [self] batch in
            loop.inject(AgentInput.received(batch, generation: generation))
            return []
        })
        let old = self.connection
        self.connection = connection
        old?.shutdown()
    }

    private func handle(_ event: AgentEvent) {
        guard !stopped else { return }
        let duration = clock.now - started
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        let actions = core.handle(event, now: seconds, unixMs: Int64(Date().timeIntervalSince1970 * 1_000))
        var later: [AgentAction] = []
        for action in actions {
            switch action {
            case .send(let message):
                do {
                    connection?.send(Message([try message.serialized()]))
                } catch {
                    logger.error("could not encode a \(message.kind): \(error)")
                }
            case .reconnect:
                // To the leader a standby named, if it is one of ours; else, with several, the next one.
                let previous = current
                let now = clock.now
                if core.leaderHint.isEmpty, !core.staysWithController { silentAt[current] = now }
                let answering = { (index: Int) in self.silentAt[index].map { now - $0 > .seconds(10) } ?? true }
                if core.staysWithController {
                    // The same one again.
                } else if let named = controllers.firstIndex(of: core.leaderHint), answering(named) {
                    current = named
                } else {
                    // The next that has not gone silent lately; a standby that answered stays next.
                    let order = (1...controllers.count).map { (current + $0) % controllers.count }
                    current = order.first(where: answering) ?? (current + 1) % controllers.count
                }
                if current != previous { logger.notice("connecting to another controller", metadata: ["controller": "\(controllers[current])"]) }
                do {
                    try connect()
                } catch {
                    logger.error("cannot open a connection to \(controllers[current]): \(error)")
                }
            case .log(let level, let message, let metadata):
                logger.log(level: Logger.Level(rawValue: level) ?? .info, "\(message)", metadata: metadata.mapValues { .string($0) })
            case .giveUp(let reason):
                logger.error("\(reason); stopping")
                shutdown()
                refused.yield(reason)
                return
            case .run, .stop:
                // Messages first, as the core ordered them; jobs start after.
                later.append(action)
            }
        }
        for action in later {
            switch action {
            case .run(let jobID, let spec, let gpus):
                do {
                    let numbers = core.dispatchNumbers(of: jobID) ?? (0, 0)
                    let start = try executor.start(
                        jobID: jobID, spec: spec, gpus: gpus, poolHasGPUs: !core.configuration.capacity.gpus.isEmpty,
                        dispatch: DispatchNumbers(attempt: numbers.attempt, sequence: numbers.sequence)
                    )
                    if case .running = start { handle(.jobStarted(jobID, output: output(of: jobID))) }
                } catch {
                    executorErrors.increment()
                    handle(.jobStartFailed(jobID, reason: "\(error)", poolFault: (error as? ExecutorError)?.poolFault ?? false))
                }
            case .stop(let jobID, let graceS):
                executor.stop(jobID: jobID, graceS: graceS)
            default:
                break
            }
        }
    }

    /// Where a job's files are, as this machine names them.
    private func output(of jobID: String) -> String {
        "\(hostName):\(executor.workingDirectory(of: jobID).path)"
    }

    /// Stops the jobs and says goodbye before the connection closes, so the controller places
    /// the jobs elsewhere at once instead of waiting out the liveness window; none may go on
    /// running here. Jobs a batch system holds run on instead, and no goodbye is said: an agent
    /// started again within the controller's liveness window takes them up.
    private func shutdown() {
        guard !stopped else { return }
        stopped = true
        guard executor.shutdown(graceS: 5) else {
            let jobs = core.runningJobIDs
            if !jobs.isEmpty {
                logger.notice("jobs run on in the batch system; an agent started again on this work directory follows them", metadata: ["jobs": "\(jobs.joined(separator: ","))"])
            }
            connection?.shutdown()
            connection = nil
            return
        }
        var goodbye = Junction_V1_Goodbye()
        goodbye.reason = "agent shutting down"
        if let bytes = try? WireMessage(.goodbye(goodbye)).serialized() { connection?.send(Message([bytes])) }
        // Shutting the connection down flushes the goodbye, bounded by the socket's linger.
        connection?.shutdown()
        connection = nil
    }
}

/// The pool agent daemon: a DEALER to the controller (replaced on every reconnect, so each
/// session has a fresh identity), the pure agent core owned by one loop thread, and a process
/// executor for the jobs.
public final class PoolAgentService: Service, Sendable {
    private let owner: AgentOwner
    private let loop: SocketLoop
    /// Permanent refusals from the controller, which end `run` with an error.
    private let refusals: AsyncStream<String>
    private let refused: AsyncStream<String>.Continuation
    private let context: Context
    private let controllers: [String]

    /// What the pool offered when the agent started: as configured, or as the batch system said.
    public let capacity: Resources

    /// An agent of one controller, or of several sharing a store (`controllers`, in the order
    /// tried), of which it follows the one that leads. Jobs run as local processes under
    /// `workDirectory`, or in Slurm when `slurm` is given.
    public init(configuration: AgentConfiguration, controllers: [String], workDirectory: URL, logger: Logger, curve: CurveClientKeys? = nil, metrics: PrometheusExport? = nil, slurm: SlurmSettings? = nil, tickInterval: Duration = .milliseconds(100)) throws {
        precondition(!controllers.isEmpty, "an agent needs a controller")
        self.controllers = controllers
        let events = LoopReference()
        var configuration = configuration
        configuration.jobsOutliveAgent = slurm != nil
        var core = PoolAgentCore(configuration: configuration, metrics: AgentMetrics(factory: metrics ?? NOOPMetricsHandler.instance))
        let executor: any JobExecutor
        if let slurm {
            let slurmExecutor = try SlurmExecutor(directory: workDirectory, settings: slurm) { event in
                events.inject(AgentInput.executor(event))
            }
            for note in slurmExecutor.startNotes { logger.notice("\(note)") }
            let host = Services.hostName()
            core.adopt(slurmExecutor.adopted.map { job in
                var job = job
                job.output = "\(host):\(slurmExecutor.workingDirectory(of: job.jobID).path)"
                return job
            })
            _ = core.handle(.observed(slurmExecutor.firstObservation), now: 0, unixMs: 0)
            executor = slurmExecutor
        } else {
            let processExecutor = try ProcessExecutor(directory: workDirectory) { exit in
                events.inject(AgentInput.executor(.exited(exit)))
            }
            if !processExecutor.leftovers.isEmpty {
                logger.warning("stopped jobs an earlier agent on this work directory left running", metadata: ["jobs": "\(processExecutor.leftovers.joined(separator: ","))"])
            }
            executor = processExecutor
        }
        capacity = core.total
        context = try Context()
        let (refusals, refused) = AsyncStream.makeStream(of: String.self)
        self.refusals = refusals
        self.refused = refused
        let factory: any MetricsFactory = metrics ?? NOOPMetricsHandler.instance
        let owner = AgentOwner(
            core: core, context: context, controllers: controllers, curve: curve,
            executor: executor, logger: logger, metrics: factory, refused: refused
        )
        self.owner = owner
        do {
            // A loop with no sockets of its own: it owns the core and wakes for inputs and ticks.
            loop = try SocketLoop(context: context, sockets: [], name: "pool-agent", owner: { [owner] wake in owner.wake(wake) }, tick: tickInterval)
        } catch {
            context.terminate()
            throw error
        }
        owner.loop.attach(loop)
        events.attach(loop)
    }

    public func run() async throws {
        let opened: Result<Void, any Error> = await withCheckedContinuation { continuation in
            loop.inject(AgentInput.start { continuation.resume(returning: $0) })
        }
        if case .failure(let error) = opened {
            finish()
            throw ExecutorError(message: "cannot open a connection to \(controllers[0]): \(error)")
        }
        owner.logger.notice("pool agent connecting", metadata: ["controller": "\(controllers.joined(separator: ","))"])
        // Either a graceful shutdown ends the wait, or the controller's permanent refusal does.
        let refusal: String? = await withGracefulShutdownHandler {
            var iterator = refusals.makeAsyncIterator()
            return await iterator.next()
        } onGracefulShutdown: { [refused] in
            refused.finish()
        }
        await withCheckedContinuation { continuation in
            loop.inject(AgentInput.shutdown { continuation.resume() })
        }
        finish()
        if let refusal { throw ExecutorError(message: refusal) }
    }

    /// Reads something off the core on its loop's thread; nil when the loop does not answer within `timeout`.
    func inspect<Value: Sendable>(timeout: Duration, _ body: @escaping @Sendable (PoolAgentCore) -> Value) async -> Value? {
        await awaitLoop(timeout: timeout) { [loop] answer in loop.inject(AgentInput.inspect { answer(body($0)) }) }
    }

    /// Ends the loop and closes the context.
    private func finish() {
        loop.shutdown()
        context.terminate()
    }
}
