import ControllerCore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Topology
import Wire
import ZeroMQ

/// Where the controller listens.
public struct ControllerEndpoints: Sendable, Hashable {
    public var pools: String
    public var clients: String
    public var events: String

    public static let defaults = ControllerEndpoints(pools: "tcp://127.0.0.1:7410", clients: "tcp://127.0.0.1:7411", events: "tcp://127.0.0.1:7412")

    public init(pools: String, clients: String, events: String) {
        self.pools = pools
        self.clients = clients
        self.events = events
    }
}

/// The controller's state and the code that feeds it, shared by the socket thread (which
/// handles messages as they arrive) and the tasks that tick and reload.
final class ControllerState: @unchecked Sendable {
    // @unchecked: `core` is only touched inside `withCore`, under `lock`.
    private let lock = NSLock()
    private var core: ControllerCore
    let store: any JobStore
    let logger: Logger
    let topologyPath: Mutex<String>
    let loop = Mutex<SocketLoop?>(nil)
    private let clock = ContinuousClock()
    private let started: ContinuousClock.Instant

    init(core: ControllerCore, store: any JobStore, logger: Logger, topologyPath: String) {
        self.core = core
        self.store = store
        self.logger = logger
        self.topologyPath = Mutex(topologyPath)
        started = clock.now
    }

    /// Runs `body` with the core, holding the lock.
    func withCore<Result>(_ body: (inout ControllerCore) -> Result) -> Result {
        lock.lock()
        defer { lock.unlock() }
        return body(&core)
    }

    func now() -> ControllerTime {
        let elapsed = clock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return ControllerTime(seconds: seconds, unixMs: Int64(Date().timeIntervalSince1970 * 1_000))
    }

    /// Handles a batch on the socket thread; returns what to send.
    func handle(batch: [Delivery]) -> [(socket: Int, message: Message)] {
        var out: [(socket: Int, message: Message)] = []
        // Decoding needs no lock, and a batch came in one poll, so one clock reading and one
        // lock serve all of it.
        let events = batch.map(event(for:))
        let time = now()
        withCore { core in
            for event in events {
                perform(core.handle(event, now: time)) { out.append(($0, $1)) }
            }
        }
        return out
    }

    /// Handles an event from anywhere else; messages go out through the loop's queue.
    func handle(_ event: ControllerEvent) {
        let loop = self.loop.withLock { $0 }
        handle(event) { loop?.send($1, on: $0) }
    }

    private func handle(_ event: ControllerEvent, send: (Int, Message) -> Void) {
        let time = now()
        withCore { core in
            perform(core.handle(event, now: time), send: send)
        }
    }

    private func event(for delivery: Delivery) -> ControllerEvent {
        let frames = delivery.message.frames
        let endpoint: Endpoint = delivery.socket == 0 ? .pools : .clients
        guard frames.count >= 2, endpoint == .clients || frames.count == 2 else {
            return .undecodable(endpoint, ClientAddress(frames: Array(frames.prefix(1))), .malformed(detail: "\(frames.count) frames"))
        }
        do {
            let message = try WireMessage(bytes: frames[frames.count - 1])
            switch endpoint {
            case .pools: return .fromPool(peer: frames[0], message)
            case .clients: return .fromClient(ClientAddress(frames: Array(frames.dropLast())), message)
            }
        } catch {
            return .undecodable(endpoint, ClientAddress(frames: Array(frames.dropLast())), error)
        }
    }

    private func perform(_ actions: [ControllerAction], send: (Int, Message) -> Void) {
        func deliver(_ message: WireMessage, to frames: [[UInt8]], on socket: Int) {
            do {
                send(socket, Message(frames + [try message.serialized()]))
            } catch {
                logger.error("could not encode a \(message.kind): \(error)")
            }
        }
        for action in actions {
            switch action {
            case .toPool(let peer, let message):
                deliver(message, to: [peer], on: 0)
            case .reply(let address, let message):
                deliver(message, to: address.frames, on: 1)
            case .publish(let topic, let event):
                if let payload = try? WireMessage(.event(event)).serialized() {
                    send(2, Message([Array(topic.utf8), payload]))
                }
            case .persist(let job):
                do {
                    try store.save(job)
                } catch {
                    logger.error("could not persist a job", metadata: ["job": "\(job.jobID)", "error": "\(error)"])
                }
            case .loadTopology(let path, let replyTo, let correlationID):
                // Reading a file is I/O: off the socket thread, then back in as an event.
                Task.detached { [self] in load(path: path, replyTo: replyTo, correlationID: correlationID) }
            case .log(let entry):
                let metadata = entry.metadata.mapValues { Logger.MetadataValue.string($0) }
                let level: Logger.Level = switch entry.level {
                case .debug: .debug
                case .info: .info
                case .notice: .notice
                case .warning: .warning
                case .error: .error
                }
                logger.log(level: level, "\(entry.message)", metadata: metadata)
            }
        }
    }

    /// Reads and validates a topology file, then hands the outcome to the core.
    func load(path: String, replyTo: ClientAddress?, correlationID: UInt64) {
        let file = path.isEmpty ? topologyPath.withLock { $0 } : path
        do {
            let loaded = try Topology.load(contentsOf: file)
            topologyPath.withLock { $0 = file }
            handle(.topologyLoaded(loaded.topology, path: file, replyTo: replyTo, correlationID: correlationID))
        } catch {
            handle(.topologyRejected(problems: error.problems.map(\.description), path: file, replyTo: replyTo, correlationID: correlationID))
        }
    }
}

/// The controller daemon: one socket loop owning the pools and clients ROUTERs and the events
/// PUB; messages are handled on that loop's thread as they arrive, by the pure controller core,
/// and the answers go out before the loop polls again. A task ticks the core for liveness,
/// heartbeats and timeouts.
public final class ControllerService: Service, Sendable {
    private let state: ControllerState
    private let loop: SocketLoop
    private let context: Context
    private let tickInterval: Duration

    /// The endpoints bound, wildcard ports resolved: pools, clients, events.
    public let endpoints: ControllerEndpoints

    /// Binds the endpoints at once, so that a bad address fails here, before `run`.
    public init(topology: Topology, topologyPath: String, endpoints: ControllerEndpoints, configuration: ControllerConfiguration = ControllerConfiguration(), store: any JobStore = InMemoryJobStore(), logger: Logger, tickInterval: Duration = .milliseconds(100)) throws {
        let state = ControllerState(core: ControllerCore(topology: topology, configuration: configuration), store: store, logger: logger, topologyPath: topologyPath)
        self.state = state
        self.tickInterval = tickInterval
        context = try Context()
        let limit = Int64(WireProtocol.maxMessageBytes + 4_096)
        let socketLoop: SocketLoop
        do {
            socketLoop = try SocketLoop(context: context, sockets: [
                SocketSpec(.router, options: [.maxMessageSize(bytes: limit), .routerMandatory(true), .receiveHighWaterMark(100_000), .sendHighWaterMark(100_000)], bind: [endpoints.pools], lingerMilliseconds: 500),
                SocketSpec(.router, options: [.maxMessageSize(bytes: limit), .receiveHighWaterMark(10_000), .sendHighWaterMark(10_000)], bind: [endpoints.clients], lingerMilliseconds: 500),
                SocketSpec(.publisher, options: [.sendHighWaterMark(100_000)], bind: [endpoints.events], lingerMilliseconds: 0),
            ], name: "controller-sockets", handler: { [state] batch in state.handle(batch: batch) })
        } catch {
            context.terminate()
            throw error
        }
        loop = socketLoop
        self.endpoints = ControllerEndpoints(pools: socketLoop.boundEndpoints[0][0], clients: socketLoop.boundEndpoints[1][0], events: socketLoop.boundEndpoints[2][0])
        state.loop.withLock { $0 = socketLoop }
    }

    /// Feeds one event to the core and carries out what it asks, in order.
    public func handle(_ event: ControllerEvent) {
        state.handle(event)
    }

    /// Reads the topology file again (SIGHUP or an admin request): a bad file changes nothing.
    public func reload() {
        state.load(path: "", replyTo: nil, correlationID: 0)
    }

    /// Serves until the service group shuts down (or the task is cancelled), then closes the
    /// sockets.
    public func run() async throws {
        state.logger.notice("controller listening", metadata: [
            "pools": "\(endpoints.pools)", "clients": "\(endpoints.clients)", "events": "\(endpoints.events)",
        ])
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: self.tickInterval)
                if Task.isCancelled { break }
                self.handle(.tick)
            }
        }
        shutdown()
    }

    /// Closes the sockets and the context; safe to call more than once.
    public func shutdown() {
        loop.shutdown()
        state.loop.withLock { $0 = nil }
        context.terminate()
    }

    /// Counters of dropped messages, by reason.
    public var dropped: [String: Int] { state.withCore { $0.dropped } }

    /// Advertisements applied so far.
    public var advertisementsApplied: Int { state.withCore { $0.advertisementsApplied } }
}
