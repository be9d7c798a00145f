import Foundation
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

/// A connection to a controller's clients endpoint: async requests matched to their replies by
/// correlation id, each bounded by a timeout.
public final class JunctionClient: Sendable {
    public let endpoint: String
    public let timeout: Double
    private let context: Context
    private let loop: SocketLoop
    private let pending = PendingReplies()
    private let nextID = Mutex<UInt64>(1)
    private let reader: Task<Void, Never>

    /// Connects to `endpoint`; with `curve`, as a CURVE client of a controller that uses keys.
    public init(endpoint: String, timeout: Double = 5, curve: CurveClientKeys? = nil) throws {
        self.endpoint = endpoint
        self.timeout = timeout
        context = try Context()
        do {
            loop = try SocketLoop(context: context, sockets: [SocketSpec(.dealer, options: curve?.socketOptions ?? [], connect: [endpoint], lingerMilliseconds: 0)], name: "junction-client")
        } catch {
            context.terminate()
            throw error
        }
        reader = Task { [loop, pending] in
            while let batch = await loop.incoming.next() {
                for delivery in batch {
                    guard let payload = delivery.message.frames.last, let message = try? WireMessage(bytes: payload) else { continue }
                    pending.resume(message.correlationID, with: message)
                }
            }
        }
    }

    /// Sends a request and waits for its reply; an error reply is thrown as `refused`.
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
        let timer = Task { [pending, timeout] in
            try? await Task.sleep(for: .seconds(timeout))
            pending.resume(id, with: nil)
        }
        defer { timer.cancel() }
        let reply: WireMessage? = await withCheckedContinuation { continuation in
            pending.add(id, continuation)
            loop.send(Message([bytes]))
        }
        guard let reply else { throw .timeout(endpoint: endpoint, seconds: timeout) }
        if case .error(let error) = reply.body { throw .refused(code: error.code, message: error.message) }
        return reply
    }

    /// Closes the connection; requests still waiting end with a timeout.
    public func close() {
        reader.cancel()
        loop.shutdown()
        pending.failAll()
        context.terminate()
    }

    deinit { close() }
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

    public func submit(_ request: Junction_V1_SubmitRequest) async throws(ClientError) -> Junction_V1_SubmitReply {
        try await ask(.submit(request)) { if case .submitted(let reply) = $0 { reply } else { nil } }
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
