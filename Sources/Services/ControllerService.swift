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

/// The controller daemon: one socket loop owning the pools and clients ROUTERs and the events
/// PUB, feeding the pure controller core one event at a time and carrying out its actions.
public final class ControllerService: Service, Sendable {
    private let core: Mutex<ControllerCore>
    private let loop: SocketLoop
    private let context: Context
    private let logger: Logger
    private let store: any JobStore
    private let topologyPath: Mutex<String>
    private let clock = ContinuousClock()
    private let started: ContinuousClock.Instant
    private let tickInterval: Duration

    /// The endpoints bound, wildcard ports resolved: pools, clients, events.
    public let endpoints: ControllerEndpoints

    /// Binds the endpoints at once, so that a bad address fails here, before `run`.
    public init(topology: Topology, topologyPath: String, endpoints: ControllerEndpoints, configuration: ControllerConfiguration = ControllerConfiguration(), store: any JobStore = InMemoryJobStore(), logger: Logger, tickInterval: Duration = .milliseconds(100)) throws {
        self.core = Mutex(ControllerCore(topology: topology, configuration: configuration))
        self.logger = logger
        self.store = store
        self.topologyPath = Mutex(topologyPath)
        self.tickInterval = tickInterval
        started = clock.now
        context = try Context()
        let limit = Int64(WireProtocol.maxMessageBytes + 4_096)
        do {
            loop = try SocketLoop(context: context, sockets: [
                SocketSpec(.router, options: [.maxMessageSize(bytes: limit), .routerMandatory(true), .receiveHighWaterMark(100_000), .sendHighWaterMark(100_000)], bind: [endpoints.pools], lingerMilliseconds: 500),
                SocketSpec(.router, options: [.maxMessageSize(bytes: limit), .receiveHighWaterMark(10_000), .sendHighWaterMark(10_000)], bind: [endpoints.clients], lingerMilliseconds: 500),
                SocketSpec(.publisher, options: [.sendHighWaterMark(100_000)], bind: [endpoints.events], lingerMilliseconds: 0),
            ], name: "controller-sockets")
        } catch {
            context.terminate()
            throw error
        }
        self.endpoints = ControllerEndpoints(pools: loop.boundEndpoints[0][0], clients: loop.boundEndpoints[1][0], events: loop.boundEndpoints[2][0])
    }

    private func now() -> ControllerTime {
        let elapsed = clock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return ControllerTime(seconds: seconds, unixMs: Int64(Date().timeIntervalSince1970 * 1_000))
    }

    /// Feeds one event to the core and carries out what it asks, in order.
    public func handle(_ event: ControllerEvent) {
        core.withLock { core in
            let actions = core.handle(event, now: now())
            perform(actions)
        }
    }

    /// Reads the topology file again (SIGHUP or an admin request): a bad file changes nothing.
    public func reload() {
        let path = topologyPath.withLock { $0 }
        load(path: path, replyTo: nil, correlationID: 0)
    }

    private func load(path: String, replyTo: ClientAddress?, correlationID: UInt64) {
        let file = path.isEmpty ? topologyPath.withLock { $0 } : path
        do {
            let loaded = try Topology.load(contentsOf: file)
            topologyPath.withLock { $0 = file }
            handle(.topologyLoaded(loaded.topology, path: file, replyTo: replyTo, correlationID: correlationID))
        } catch {
            handle(.topologyRejected(problems: error.problems.map(\.description), path: file, replyTo: replyTo, correlationID: correlationID))
        }
    }

    private func perform(_ actions: [ControllerAction]) {
        for action in actions {
            switch action {
            case .toPool(let peer, let message):
                send(message, to: [peer], on: 0)
            case .reply(let address, let message):
                send(message, to: address.frames, on: 1)
            case .publish(let topic, let event):
                if let payload = try? WireMessage(.event(event)).serialized() {
                    loop.send(Message([Array(topic.utf8), payload]), on: 2)
                }
            case .persist(let job):
                do {
                    try store.save(job)
                } catch {
                    logger.error("could not persist a job", metadata: ["job": "\(job.jobID)", "error": "\(error)"])
                }
            case .loadTopology(let path, let replyTo, let correlationID):
                // Reading a file is I/O: off the core's lock, then back in as an event.
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

    private func send(_ message: WireMessage, to frames: [[UInt8]], on socket: Int) {
        do {
            loop.send(Message(frames + [try message.serialized()]), on: socket)
        } catch {
            logger.error("could not encode a \(message.kind): \(error)")
        }
    }

    /// Serves until the service group shuts down, then closes the sockets.
    public func run() async throws {
        logger.notice("controller listening", metadata: [
            "pools": "\(endpoints.pools)", "clients": "\(endpoints.clients)", "events": "\(endpoints.events)",
        ])
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.receive() }
                group.addTask { await self.ticks() }
                await group.next()
                group.cancelAll()
            }
        } onGracefulShutdown: {
            self.loop.shutdown()
        }
        shutdown()
    }

    /// Closes the sockets and the context; safe to call more than once.
    public func shutdown() {
        loop.shutdown()
        context.terminate()
    }

    private func receive() async {
        for await batch in loop.incoming {
            for delivery in batch { route(delivery) }
        }
    }

    private func route(_ delivery: Delivery) {
        let frames = delivery.message.frames
        let endpoint: Endpoint = delivery.socket == 0 ? .pools : .clients
        guard frames.count >= 2, endpoint == .clients || frames.count == 2 else {
            handle(.undecodable(endpoint, ClientAddress(frames: Array(frames.prefix(1))), .malformed(detail: "\(frames.count) frames")))
            return
        }
        let address = ClientAddress(frames: Array(frames.dropLast()))
        do {
            let message = try WireMessage(bytes: frames[frames.count - 1])
            switch endpoint {
            case .pools: handle(.fromPool(peer: frames[0], message))
            case .clients: handle(.fromClient(address, message))
            }
        } catch {
            handle(.undecodable(endpoint, address, error))
        }
    }

    private func ticks() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: tickInterval)
            if Task.isCancelled { break }
            handle(.tick)
        }
    }

    /// Counters of dropped messages, by reason.
    public var dropped: [String: Int] { core.withLock { $0.dropped } }
}
