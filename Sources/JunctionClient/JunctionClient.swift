#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Synchronization
import Wire
import ZeroMQ

/// Why a request to the controller did not get an answer it can use.
public enum ClientError: Error, Sendable, CustomStringConvertible {
    /// No reply within the timeout: the controller is down, unreachable, or speaks CURVE.
    case timeout(endpoint: String, seconds: Double)
    /// The controller answered with an error.
    case refused(code: Junction_V1_ErrorCode, message: String)
    /// The reply was not the kind the request expects.
    case unexpected(String)
    case transport(String)

    public var description: String {
        switch self {
        case .timeout(let endpoint, let seconds):
            // A CURVE handshake that fails (a wrong server key, a key not allowed, keys on one side
            // only) looks exactly like silence, so the message names both causes.
            "no answer from the controller at \(endpoint) within \(compact(seconds)) s; is `junction controller` running there, and if it uses keys, do --key and --server-key (JUNCTION_KEY, JUNCTION_SERVER_KEY) match its allow-list?"
        case .refused(_, let message):
            message
        case .unexpected(let kind):
            "the controller answered with an unexpected \(kind)"
        case .transport(let detail):
            detail
        }
    }
}

private func compact(_ value: Double) -> String {
    value == value.rounded() ? String(Int(value)) : String(value)
}

/// A connection to a controller's clients endpoint, or to several controllers sharing a store
/// (one leads, the others answer NOT_LEADER): async requests matched to their replies by
/// correlation id, each bounded by a timeout.
public final class JunctionClient: Sendable {
    /// The clients endpoints, in the order tried.
    public let endpoints: [String]
    public let timeout: Double
    /// With several endpoints, how much longer than `timeout` a request keeps looking for the
    /// leader: long enough for a standby to take over (a lease, then a campaign).
    public let failoverS: Double
    private let context: Context
    private let curve: CurveClientKeys?
    private let connections = Mutex<[Int: Connection]>([:])
    private let nextID = Mutex<UInt64>(1)

    /// Connects to `endpoint`; with `curve`, as a CURVE client of a controller that uses keys.
    public convenience init(endpoint: String, timeout: Double = 5, curve: CurveClientKeys? = nil) throws {
        try self.init(endpoints: [endpoint], timeout: timeout, curve: curve)
    }

    /// Connects to the first of `endpoints` (each controller's clients endpoint), and to the
    /// others when a request needs them.
    public init(endpoints: [String], timeout: Double = 5, failoverS: Double = 15, curve: CurveClientKeys? = nil) throws {
        precondition(!endpoints.isEmpty, "a client needs an endpoint")
        self.endpoints = endpoints
        self.timeout = timeout
        self.failoverS = failoverS
        self.curve = curve
        context = try Context()
        do {
            _ = try connection(0)
        } catch {
            context.terminate()
            throw error
        }
    }

    /// The connection to endpoint `index`, opened on first use.
    private func connection(_ index: Int) throws -> Connection {
        try connections.withLock { connections in
            if let open = connections[index] { return open }
            let opened = try Connection(context: context, endpoint: endpoints[index], curve: curve)
            connections[index] = opened
            return opened
        }
    }

    /// Sends a request and waits for its reply; an error reply is thrown as `refused`. With
    /// several controllers, each round asks all of them at once (a standby only turns a request
    /// away, so at most the leader acts on it) and takes the leader's answer; rounds go on while
    /// none leads, until `failoverS` beyond the timeout.
    public func request(_ body: WireBody) async throws(ClientError) -> WireMessage {
        let id = nextID.withLock { id in
            defer { id += 1 }
            return id
        }
        let bytes: [UInt8]
        do {
            bytes = try WireMessage(body, correlationID: id).serialized()
        } catch {
            throw .transport("cannot encode the request: \(error)")
        }
        let clock = ContinuousClock()
        let several = endpoints.count > 1
        let deadline = clock.now + .seconds(timeout + (several ? failoverS : 0))
        var turnedAway: Junction_V1_ErrorReply?
        while true {
            let left = clock.now.duration(to: deadline)
            let wait = min(timeout, Double(left.components.seconds) + Double(left.components.attoseconds) / 1e18)
            guard wait > 0 else { break }
            let round: Round
            do {
                round = try await ask(bytes, id: id, wait: wait)
            } catch {
                throw .transport("cannot connect: \(error)")
            }
            switch round {
            case .served(let reply):
                if case .error(let error) = reply.body { throw .refused(code: error.code, message: error.message) }
                return reply
            case .turnedAway(let error, let allAnswered):
                turnedAway = error
                guard several else { throw .refused(code: error.code, message: error.message) }
                // None leads: a takeover is under way. Those that answered are asked again soon
                // (the silent ones already had their second).
                if allAnswered { try? await Task.sleep(for: .milliseconds(250)) }
            case .silent:
                break
            }
            // One controller: one round, bounded by the timeout.
            if !several { break }
        }
        if let turnedAway { throw .refused(code: turnedAway.code, message: turnedAway.message) }
        throw .timeout(endpoint: endpoints.joined(separator: ", "), seconds: timeout)
    }

    /// How one round of a request ended.
    private enum Round: Sendable {
        /// A controller that leads (or the only one) answered.
        case served(WireMessage)
        /// Controllers answered, each NOT_LEADER (all of them, or some while the rest stayed silent).
        case turnedAway(Junction_V1_ErrorReply, allAnswered: Bool)
        /// No controller answered within the wait.
        case silent
    }

    /// Sends the request to every controller at once and waits for the first answer that is not
    /// NOT_LEADER. Once one has turned it away, the silent ones get at most a second more.
    private func ask(_ bytes: [UInt8], id: UInt64, wait: Double) async throws -> Round {
        let open = try endpoints.indices.map { try connection($0) }
        return await withTaskGroup(of: (index: Int, reply: WireMessage?).self) { group in
            for (index, connection) in open.enumerated() {
                group.addTask { (index, await connection.send(bytes, id: id, timeout: wait)) }
            }
            var turnedAway: Junction_V1_ErrorReply?
            var answered = 0
            var cutOff = false
            defer { group.cancelAll() }
            while let (index, reply) = await group.next() {
                // The cut-off's own marker: the silent ones had their second.
                if index < 0 { break }
                guard let reply else { continue }
                if case .error(let error) = reply.body, error.code == .notLeader {
                    turnedAway = error
                    answered += 1
                    if answered == open.count { break }
                    if !cutOff {
                        cutOff = true
                        group.addTask {
                            try? await Task.sleep(for: .seconds(min(1, wait)))
                            return (-1, nil)
                        }
                    }
                    continue
                }
                return .served(reply)
            }
            return turnedAway.map { .turnedAway($0, allAnswered: answered == open.count) } ?? .silent
        }
    }

    /// Closes the connections; requests still waiting end with a timeout.
    public func close() {
        let open = connections.withLock { connections in
            defer { connections = [:] }
            return Array(connections.values)
        }
        for connection in open { connection.close() }
        context.terminate()
    }

    deinit { close() }
}

/// One DEALER to one controller, with its requests waiting for replies.
private final class Connection: Sendable {
    private let loop: SocketLoop
    private let pending = PendingReplies()
    private let reader: Task<Void, Never>

    init(context: Context, endpoint: String, curve: CurveClientKeys?) throws {
        loop = try SocketLoop(context: context, sockets: [SocketSpec(.dealer, options: curve?.socketOptions ?? [], connect: [endpoint], lingerMilliseconds: 0)], name: "junction-client")
        reader = Task { [loop, pending] in
            while let batch = await loop.incoming.next() {
                for delivery in batch {
                    guard let payload = delivery.message.frames.last, let message = try? WireMessage(bytes: payload) else { continue }
                    pending.resume(message.correlationID, with: message)
                }
            }
        }
    }

    /// Sends one request and waits for its reply; nil after `timeout` seconds without one, or
    /// when the waiting task is cancelled.
    func send(_ bytes: [UInt8], id: UInt64, timeout: Double) async -> WireMessage? {
        let timer = Task { [pending] in
            try? await Task.sleep(for: .seconds(timeout))
            pending.resume(id, with: nil)
        }
        defer { timer.cancel() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                pending.add(id, continuation)
                // Cancelled before the request was waiting: the handler found nothing to end.
                if Task.isCancelled {
                    pending.resume(id, with: nil)
                    return
                }
                loop.send(Message([bytes]))
            }
        } onCancel: { [pending] in
            pending.resume(id, with: nil)
        }
    }

    func close() {
        reader.cancel()
        loop.shutdown()
        pending.failAll()
    }
}

/// Requests waiting for their replies, by correlation id.
final class PendingReplies: Sendable {
    private let waiting = Mutex<[UInt64: CheckedContinuation<WireMessage?, Never>]>([:])

    func add(_ id: UInt64, _ continuation: CheckedContinuation<WireMessage?, Never>) {
        waiting.withLock { $0[id] = continuation }
    }

    /// Resumes the request `id` once; later replies or timeouts for it do nothing.
    func resume(_ id: UInt64, with message: WireMessage?) {
        waiting.withLock { $0.removeValue(forKey: id) }?.resume(returning: message)
    }

    func failAll() {
        let all = waiting.withLock { waiting in
            defer { waiting.removeAll() }
            return Array(waiting.values)
        }
        for continuation in all { continuation.resume(returning: nil) }
    }
}

/// One method per request, each returning its own reply: callers never match reply bodies.
extension JunctionClient {
    /// Sends `body` and returns the reply's payload when it is the kind `extract` takes.
    private func ask<Reply>(_ body: WireBody, _ extract: (WireBody) -> Reply?) async throws(ClientError) -> Reply {
        let reply = try await request(body)
        guard let value = extract(reply.body) else { throw .unexpected(reply.kind) }
        return value
    }

    /// Where a job would go, with every pool's reason; nothing is held.
    public func place(_ request: Junction_V1_PlaceRequest) async throws(ClientError) -> Junction_V1_PlacementReply {
        try await ask(.place(request)) { if case .placement(let reply) = $0 { reply } else { nil } }
    }

    /// Submits a job. A submit without an idempotency key gets a fresh one, so that sending it
    /// again (after a timeout, or to a new leader) never makes a second job.
    public func submit(_ request: Junction_V1_SubmitRequest) async throws(ClientError) -> Junction_V1_SubmitReply {
        var request = request
        if request.idempotencyKey.isEmpty { request.idempotencyKey = UUID().uuidString }
        return try await ask(.submit(request)) { if case .submitted(let reply) = $0 { reply } else { nil } }
    }

    public func status(_ request: Junction_V1_StatusRequest) async throws(ClientError) -> Junction_V1_StatusReply {
        try await ask(.status(request)) { if case .jobStatus(let reply) = $0 { reply } else { nil } }
    }

    public func cancel(_ jobID: String) async throws(ClientError) -> Junction_V1_CancelReply {
        var request = Junction_V1_CancelRequest()
        request.jobID = jobID
        return try await ask(.cancel(request)) { if case .cancelled(let reply) = $0 { reply } else { nil } }
    }

    public func routes(_ request: Junction_V1_RoutesRequest) async throws(ClientError) -> Junction_V1_RoutesReply {
        try await ask(.routes(request)) { if case .routeTable(let reply) = $0 { reply } else { nil } }
    }

    public func pools(_ request: Junction_V1_PoolsRequest = Junction_V1_PoolsRequest()) async throws(ClientError) -> Junction_V1_PoolsReply {
        try await ask(.pools(request)) { if case .poolTable(let reply) = $0 { reply } else { nil } }
    }

    public func snapshot(_ request: Junction_V1_SnapshotRequest = Junction_V1_SnapshotRequest()) async throws(ClientError) -> Junction_V1_SnapshotReply {
        try await ask(.snapshot(request)) { if case .snapshotReply(let reply) = $0 { reply } else { nil } }
    }

    public func usage(_ request: Junction_V1_UsageRequest) async throws(ClientError) -> Junction_V1_UsageReply {
        try await ask(.usage(request)) { if case .usageReply(let reply) = $0 { reply } else { nil } }
    }

    public func admin(_ request: Junction_V1_AdminRequest) async throws(ClientError) -> Junction_V1_AdminReply {
        try await ask(.admin(request)) { if case .adminReply(let reply) = $0 { reply } else { nil } }
    }
}
