internal import CZeroMQ

/// The ZeroMQ socket patterns Junction uses.
public enum SocketType: Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case pair, publisher, subscriber, request, reply, dealer, router, pull, push
    /// A publisher that also reads its subscribers' subscriptions: a message per topic prefix
    /// when its first subscriber subscribes (first byte 1) and when its last one leaves (0).
    case extendedPublisher

    var raw: Int32 {
        switch self {
        case .pair: ZMQ_PAIR
        case .publisher: ZMQ_PUB
        case .subscriber: ZMQ_SUB
        case .request: ZMQ_REQ
        case .reply: ZMQ_REP
        case .dealer: ZMQ_DEALER
        case .router: ZMQ_ROUTER
        case .pull: ZMQ_PULL
        case .push: ZMQ_PUSH
        case .extendedPublisher: ZMQ_XPUB
        }
    }

    public var description: String {
        switch self {
        case .pair: "PAIR"
        case .publisher: "PUB"
        case .subscriber: "SUB"
        case .request: "REQ"
        case .reply: "REP"
        case .dealer: "DEALER"
        case .router: "ROUTER"
        case .pull: "PULL"
        case .push: "PUSH"
        case .extendedPublisher: "XPUB"
        }
    }
}

/// A multipart ZeroMQ message: one or more byte frames.
public struct Message: Sendable, Hashable {
    /// The frames, in order.
    public var frames: [[UInt8]]
    /// Who sent it, as the ZAP handler named the peer when it let it in (CURVE); nil otherwise.
    public var userID: String?

    public init(_ frames: [[UInt8]], userID: String? = nil) {
        self.frames = frames
        self.userID = userID
    }

    public init(_ frames: [UInt8]...) {
        self.frames = frames
    }
}

/// What is wrong with an endpoint as text, before libzmq answers it with a bare errno 22; nil
/// when it names a transport this project uses.
public func endpointProblem(_ endpoint: String) -> String? {
    for scheme in ["tcp://", "ipc://", "inproc://"] where endpoint.hasPrefix(scheme) {
        return endpoint.count > scheme.count ? nil : "\(endpoint) names no address"
    }
    if endpoint.contains("://") { return "\(endpoint) uses a transport other than tcp://, ipc:// or inproc://" }
    return "\(endpoint) names no transport: write tcp://\(endpoint)"
}

/// A socket option the daemons set. Values are in the units libzmq uses (milliseconds, bytes).
public enum SocketOption: Sendable, Hashable {
    /// How long unsent messages are kept after close, in milliseconds (-1: forever).
    case linger(milliseconds: Int32)
    case sendHighWaterMark(Int32)
    case receiveHighWaterMark(Int32)
    /// Peers sending a larger message are disconnected (-1: no limit).
    case maxMessageSize(bytes: Int64)
    case routingID([UInt8])
    /// A ROUTER reports EHOSTUNREACH for an unknown peer instead of dropping silently.
    case routerMandatory(Bool)
    /// ZMTP heartbeats: PING every `interval`, peer's TTL, and the timeout for the PONG.
    case heartbeat(intervalMilliseconds: Int32, timeToLiveMilliseconds: Int32, timeoutMilliseconds: Int32)
    case tcpKeepalive(Bool)
    case tcpKeepaliveIdle(seconds: Int32)
    case tcpKeepaliveInterval(seconds: Int32)
    case tcpKeepaliveCount(Int32)
    case curveServer(Bool)
    /// Z85-encoded 40-character key.
    case curvePublicKey(String)
    case curveSecretKey(String)
    case curveServerKey(String)
    case zapDomain(String)
    case subscribe([UInt8])
    case unsubscribe([UInt8])
    /// Only queue messages to completed connections.
    case immediate(Bool)
    case reconnectInterval(milliseconds: Int32)
    case reconnectIntervalMax(milliseconds: Int32)
    case sendTimeout(milliseconds: Int32)
    case receiveTimeout(milliseconds: Int32)
}

/// One ZeroMQ socket. Not thread-safe: exactly one thread owns it (see `SocketLoop`).
public final class Socket {
    let handle: UnsafeMutableRawPointer
    /// The pattern this socket was created with.
    public let type: SocketType
    private var closed = false

    /// Creates a socket in the context. Set its linger on purpose before closing it.
    public init(_ context: Context, type: SocketType) throws(ZeroMQError) {
        guard let handle = zmq_socket(context.handle, type.raw) else {
            throw ZeroMQError(operation: "zmq_socket \(type)", code: zmq_errno())
        }
        self.handle = handle
        self.type = type
    }

    deinit { close() }

    /// Closes the socket; unsent messages are kept for the linger period. Idempotent.
    public func close() {
        guard !closed else { return }
        closed = true
        zmq_close(handle)
    }

    public func bind(_ endpoint: String) throws(ZeroMQError) {
        try zmqCheck("bind \(endpoint)", { zmq_bind(handle, endpoint) })
    }

    public func connect(_ endpoint: String) throws(ZeroMQError) {
        try zmqCheck("connect \(endpoint)", { zmq_connect(handle, endpoint) })
    }

    public func unbind(_ endpoint: String) throws(ZeroMQError) {
        try zmqCheck("unbind \(endpoint)", { zmq_unbind(handle, endpoint) })
    }

    /// Publishes this socket's failed accepts to a PAIR socket that connects to `endpoint` (inproc).
    /// Reports accepted connections, failed accepts and ended connections on `endpoint`.
    func monitorAccepts(on endpoint: String) throws(ZeroMQError) {
        try zmqCheck("monitor \(endpoint)", { zmq_socket_monitor(handle, endpoint, ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_ACCEPT_FAILED | ZMQ_EVENT_DISCONNECTED) })
    }

    public func disconnect(_ endpoint: String) throws(ZeroMQError) {
        try zmqCheck("disconnect \(endpoint)", { zmq_disconnect(handle, endpoint) })
    }

    /// The endpoint last bound or connected, with a wildcard port resolved to the real one.
    public func lastEndpoint() throws(ZeroMQError) -> String {
        var buffer = [CChar](repeating: 0, count: 1024)
        var size = buffer.count
        try zmqCheck("get ZMQ_LAST_ENDPOINT", { zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buffer, &size) })
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public func set(_ option: SocketOption) throws(ZeroMQError) {
        switch option {
        case .linger(let value): try setInt32(ZMQ_LINGER, value, "ZMQ_LINGER")
        case .sendHighWaterMark(let value): try setInt32(ZMQ_SNDHWM, value, "ZMQ_SNDHWM")
        case .receiveHighWaterMark(let value): try setInt32(ZMQ_RCVHWM, value, "ZMQ_RCVHWM")
        case .maxMessageSize(let bytes):
            var value = bytes
            try zmqCheck("set ZMQ_MAXMSGSIZE", {
                zmq_setsockopt(handle, ZMQ_MAXMSGSIZE, &value, MemoryLayout<Int64>.size)
            })
        case .routingID(let bytes): try setBytes(ZMQ_ROUTING_ID, bytes, "ZMQ_ROUTING_ID")
        case .routerMandatory(let on): try setInt32(ZMQ_ROUTER_MANDATORY, on ? 1 : 0, "ZMQ_ROUTER_MANDATORY")
        case .heartbeat(let interval, let ttl, let timeout):
            try setInt32(ZMQ_HEARTBEAT_IVL, interval, "ZMQ_HEARTBEAT_IVL")
            try setInt32(ZMQ_HEARTBEAT_TTL, ttl, "ZMQ_HEARTBEAT_TTL")
            try setInt32(ZMQ_HEARTBEAT_TIMEOUT, timeout, "ZMQ_HEARTBEAT_TIMEOUT")
        case .tcpKeepalive(let on): try setInt32(ZMQ_TCP_KEEPALIVE, on ? 1 : 0, "ZMQ_TCP_KEEPALIVE")
        case .tcpKeepaliveIdle(let seconds): try setInt32(ZMQ_TCP_KEEPALIVE_IDLE, seconds, "ZMQ_TCP_KEEPALIVE_IDLE")
        case .tcpKeepaliveInterval(let seconds): try setInt32(ZMQ_TCP_KEEPALIVE_INTVL, seconds, "ZMQ_TCP_KEEPALIVE_INTVL")
        case .tcpKeepaliveCount(let count): try setInt32(ZMQ_TCP_KEEPALIVE_CNT, count, "ZMQ_TCP_KEEPALIVE_CNT")
        case .curveServer(let on): try setInt32(ZMQ_CURVE_SERVER, on ? 1 : 0, "ZMQ_CURVE_SERVER")
        case .curvePublicKey(let key): try setString(ZMQ_CURVE_PUBLICKEY, key, "ZMQ_CURVE_PUBLICKEY")
        case .curveSecretKey(let key): try setString(ZMQ_CURVE_SECRETKEY, key, "ZMQ_CURVE_SECRETKEY")
        case .curveServerKey(let key): try setString(ZMQ_CURVE_SERVERKEY, key, "ZMQ_CURVE_SERVERKEY")
        case .zapDomain(let domain): try setString(ZMQ_ZAP_DOMAIN, domain, "ZMQ_ZAP_DOMAIN")
        case .subscribe(let prefix): try setBytes(ZMQ_SUBSCRIBE, prefix, "ZMQ_SUBSCRIBE")
        case .unsubscribe(let prefix): try setBytes(ZMQ_UNSUBSCRIBE, prefix, "ZMQ_UNSUBSCRIBE")
        case .immediate(let on): try setInt32(ZMQ_IMMEDIATE, on ? 1 : 0, "ZMQ_IMMEDIATE")
        case .reconnectInterval(let ms): try setInt32(ZMQ_RECONNECT_IVL, ms, "ZMQ_RECONNECT_IVL")
        case .reconnectIntervalMax(let ms): try setInt32(ZMQ_RECONNECT_IVL_MAX, ms, "ZMQ_RECONNECT_IVL_MAX")
        case .sendTimeout(let ms): try setInt32(ZMQ_SNDTIMEO, ms, "ZMQ_SNDTIMEO")
        case .receiveTimeout(let ms): try setInt32(ZMQ_RCVTIMEO, ms, "ZMQ_RCVTIMEO")
        }
    }

    /// Sends every frame of the message. With `wait: false`, returns false instead of blocking
    /// when the message cannot be queued (high-water mark reached, or no peer yet).
    @discardableResult
    public func send(_ message: Message, wait: Bool = true) throws(ZeroMQError) -> Bool {
        precondition(!message.frames.isEmpty, "a ZeroMQ message has at least one frame")
        let last = message.frames.count - 1
        for (index, frame) in message.frames.enumerated() {
            var flags: Int32 = index < last ? ZMQ_SNDMORE : 0
            // Only the first frame can block: libzmq queues the rest of an accepted message.
            if !wait && index == 0 { flags |= ZMQ_DONTWAIT }
            let sent = frame.withUnsafeBytes { bytes in
                Result { () throws(ZeroMQError) in
                    try zmqCall("send on \(type)", { zmq_send(handle, bytes.baseAddress, bytes.count, flags) })
                }
            }
            if try sent.get() == nil { return false }
        }
        return true
    }

    /// Receives one whole multipart message. With `wait: false`, returns nil when none is queued.
    public func receive(wait: Bool = true) throws(ZeroMQError) -> Message? {
        var frames: [[UInt8]] = []
        var part = zmq_msg_t()
        zmq_msg_init(&part)
        defer { zmq_msg_close(&part) }
        var flags: Int32 = wait ? 0 : ZMQ_DONTWAIT
        var userID: String?
        repeat {
            guard try zmqCall("receive on \(type)", { zmq_msg_recv(&part, handle, flags) }) != nil else {
                return nil
            }
            // A ROUTER's identity frame is made locally and carries no properties: the peer's
            // frames do, so the first one that has a User-Id gives it.
            if userID == nil, let name = zmq_msg_gets(&part, "User-Id"), name.pointee != 0 { userID = String(cString: name) }
            let size = zmq_msg_size(&part)
            let data = zmq_msg_data(&part)
            frames.append([UInt8](UnsafeRawBufferPointer(start: data, count: size)))
            // The remaining parts of a message arrive together with the first.
            flags = 0
        } while zmq_msg_more(&part) != 0
        return Message(frames, userID: userID)
    }

    private func setInt32(_ name: Int32, _ value: Int32, _ label: String) throws(ZeroMQError) {
        var value = value
        try zmqCheck("set \(label)", { zmq_setsockopt(handle, name, &value, MemoryLayout<Int32>.size) })
    }

    private func setBytes(_ name: Int32, _ bytes: [UInt8], _ label: String) throws(ZeroMQError) {
        try bytes.withUnsafeBytes { raw in
            Result { () throws(ZeroMQError) in
                try zmqCheck("set \(label)", { zmq_setsockopt(handle, name, raw.baseAddress, raw.count) })
            }
        }.get()
    }

    private func setString(_ name: Int32, _ text: String, _ label: String) throws(ZeroMQError) {
        try setBytes(name, Array(text.utf8), label)
    }
}
