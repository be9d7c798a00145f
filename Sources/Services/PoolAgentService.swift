import Foundation
import Logging
import PoolAgentCore
import ServiceLifecycle
import Synchronization
import Wire
import ZeroMQ

/// The pool agent daemon: a DEALER to the controller (replaced on every reconnect, so each
/// session has a fresh identity), the pure agent core, and a process executor for the jobs.
public final class PoolAgentService: Service, @unchecked Sendable {
    // @unchecked: `core` is only touched inside `withCore`, under `lock`; the other stored
    // properties are constants or mutexes.
    private let lock = NSLock()
    private var core: PoolAgentCore
    private let connection = Mutex<SocketLoop?>(nil)
    private let context: Context
    private let controller: String
    private let logger: Logger
    private let clock = ContinuousClock()
    private let started: ContinuousClock.Instant
    private let tickInterval: Duration
    private let curve: CurveClientKeys?
    private let executor = Mutex<ProcessExecutor?>(nil)

    /// Keys for a controller that speaks CURVE.
    public struct CurveClientKeys: Sendable {
        public var serverPublicKey: String
        public var keys: CurveKeyPair

        public init(serverPublicKey: String, keys: CurveKeyPair) {
            self.serverPublicKey = serverPublicKey
            self.keys = keys
        }
    }

    public init(configuration: AgentConfiguration, controller: String, workDirectory: URL, logger: Logger, curve: CurveClientKeys? = nil, tickInterval: Duration = .milliseconds(100)) throws {
        core = PoolAgentCore(configuration: configuration)
        self.controller = controller
        self.logger = logger
        self.curve = curve
        self.tickInterval = tickInterval
        started = clock.now
        context = try Context()
        let executor = try ProcessExecutor(directory: workDirectory) { [weak self] exit in
            self?.handle(.jobExited(exit.jobID, exitCode: exit.exitCode, usage: exit.usage))
        }
        self.executor.withLock { $0 = executor }
        if !executor.leftovers.isEmpty {
            logger.warning("stopped jobs an earlier agent on this work directory left running", metadata: ["jobs": "\(executor.leftovers.joined(separator: ","))"])
        }
    }

    private func withCore<Result>(_ body: (inout PoolAgentCore) -> Result) -> Result {
        lock.lock()
        defer { lock.unlock() }
        return body(&core)
    }

    /// The jobs this agent runs now.
    public var runningJobs: [String] { withCore { $0.runningJobIDs } }
    public var isRegistered: Bool { withCore { $0.isRegistered } }

    private func openConnection() throws -> SocketLoop {
        var options: [SocketOption] = [.immediate(false), .reconnectInterval(milliseconds: 250), .reconnectIntervalMax(milliseconds: 1_000)]
        if let curve {
            options += [.curveServerKey(curve.serverPublicKey), .curvePublicKey(curve.keys.publicKey), .curveSecretKey(curve.keys.secretKey)]
        }
        return try SocketLoop(context: context, sockets: [SocketSpec(.dealer, options: options, connect: [controller], lingerMilliseconds: 200)], name: "pool-agent")
    }

    private func elapsed() -> (Double, Int64) {
        let duration = clock.now - started
        return (Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18, Int64(Date().timeIntervalSince1970 * 1_000))
    }

    /// Feeds one event to the core; messages go out in order, jobs start after.
    public func handle(_ event: AgentEvent) {
        let later: [AgentAction] = withCore { core in
            let (seconds, unixMs) = elapsed()
            var deferred: [AgentAction] = []
            for action in core.handle(event, now: seconds, unixMs: unixMs) {
                switch action {
                case .send(let message):
                    guard let bytes = try? message.serialized() else { continue }
                    connection.withLock { $0?.send(Message([bytes])) }
                case .reconnect:
                    reconnect()
                case .log(let level, let message, let metadata):
                    logger.log(level: Logger.Level(rawValue: level) ?? .info, "\(message)", metadata: metadata.mapValues { .string($0) })
                case .run, .stop:
                    deferred.append(action)
                }
            }
            return deferred
        }
        for action in later {
            switch action {
            case .run(let jobID, let spec):
                do {
                    try executor.withLock { $0 }?.start(jobID: jobID, spec: spec)
                    handle(.jobStarted(jobID))
                } catch {
                    handle(.jobStartFailed(jobID, reason: "\(error)"))
                }
            case .stop(let jobID, let graceS):
                executor.withLock { $0 }?.stop(jobID: jobID, graceS: graceS)
            default:
                break
            }
        }
    }

    private func reconnect() {
        let old = connection.withLock { current -> SocketLoop? in
            let old = current
            current = try? openConnection()
            return old
        }
        old?.shutdown()
    }

    public func run() async throws {
        connection.withLock { $0 = try? openConnection() }
        guard connection.withLock({ $0 != nil }) else {
            throw ExecutorError(message: "cannot open a connection to \(controller)")
        }
        logger.notice("pool agent connecting", metadata: ["controller": "\(controller)"])
        handle(.connected)
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.receive() }
                group.addTask { await self.ticks() }
                await group.next()
                group.cancelAll()
            }
        } onGracefulShutdown: {
            self.stopReceiving()
        }
        finish()
    }

    private let stopping = Mutex(false)

    /// Stops the jobs and says goodbye before the connection closes, so the controller places
    /// the jobs elsewhere at once instead of waiting out the liveness window; none may go on
    /// running here.
    private func stopReceiving() {
        stopping.withLock { $0 = true }
        executor.withLock { $0 }?.stopAll(graceS: 5)
        var goodbye = Junction_V1_Goodbye()
        goodbye.reason = "agent shutting down"
        let loop = connection.withLock { current -> SocketLoop? in
            defer { current = nil }
            return current
        }
        if let loop, let bytes = try? WireMessage(.goodbye(goodbye)).serialized() { loop.send(Message([bytes])) }
        // Shutting the loop down flushes the goodbye, bounded by the socket's linger.
        loop?.shutdown()
    }

    /// Closes the context once the connection is gone.
    private func finish() {
        if !stopping.withLock({ $0 }) { stopReceiving() }
        context.terminate()
    }

    private func receive() async {
        while !Task.isCancelled, !stopping.withLock({ $0 }) {
            guard let loop = connection.withLock({ $0 }) else { return }
            while let batch = await loop.incoming.next() {
                for delivery in batch {
                    guard let payload = delivery.message.frames.last else { continue }
                    do {
                        handle(.fromController(try WireMessage(bytes: payload)))
                    } catch {
                        logger.warning("dropped an undecodable message from the controller: \(error)")
                    }
                }
            }
            // That connection ended: a reconnect replaced it, or shutdown closed it.
            if Task.isCancelled { return }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    private func ticks() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: tickInterval)
            if Task.isCancelled { break }
            handle(.tick)
        }
    }
}
