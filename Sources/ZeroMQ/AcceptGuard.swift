internal import CZeroMQ
import Glibc
import Synchronization

/// What a socket loop reports about its own health, for its owner's log.
public enum LoopNotice: Sendable, Hashable, CustomStringConvertible {
    /// Accepting a connection failed for lack of resources (file descriptors, most often): the
    /// endpoint stops listening for `seconds` rather than spin on a connection it cannot take.
    case acceptsPaused(endpoint: String, reason: String, failures: Int, seconds: Double)
    /// The endpoint listens again.
    case acceptsResumed(endpoint: String)
    /// Listening again failed; the loop tries again after `seconds`.
    case rebindFailed(endpoint: String, reason: String, seconds: Double)

    public var description: String {
        switch self {
        case .acceptsPaused(let endpoint, let reason, let failures, let seconds):
            "cannot accept connections on \(endpoint): \(reason) (\(failures) \(failures == 1 ? "failure" : "failures")); not listening for \(compact(seconds)) s. Raise the descriptor limit (LimitNOFILE=, ulimit -n) or reduce the number of peers"
        case .acceptsResumed(let endpoint):
            "listening on \(endpoint) again"
        case .rebindFailed(let endpoint, let reason, let seconds):
            "cannot listen on \(endpoint) again: \(reason); trying again in \(compact(seconds)) s"
        }
    }
}

private func compact(_ seconds: Double) -> String {
    let tenths = Int((seconds * 10).rounded())
    return tenths % 10 == 0 ? String(tenths / 10) : "\(tenths / 10).\(tenths % 10)"
}

/// Watches one bound socket's accepts. libzmq keeps a listening socket in its poller when accept
/// fails, so running out of descriptors turns its I/O thread into a busy loop; the guard unbinds
/// the endpoints instead, and binds them again after a back-off that doubles while the shortage
/// lasts. Connections already made keep working meanwhile; new peers are refused and retry.
final class AcceptGuard {
    let socketIndex: Int
    let monitor: Socket
    private let endpoints: [String]
    /// Endpoints unbound and not yet bound again.
    private var unbound: [String] = []
    private(set) var pausedUntil: ContinuousClock.Instant?
    private var backoff: Duration = .seconds(1)
    private var listeningSince: ContinuousClock.Instant
    private var failures = 0
    /// Connections accepted and not yet ended.
    private(set) var connections = 0

    private static let maximumBackoff: Duration = .seconds(30)
    /// Listening this long without a failure starts the back-off from the beginning again.
    private static let calmAfter: Duration = .seconds(60)
    private static let starving: Set<Int32> = [EMFILE, ENFILE, ENOBUFS, ENOMEM]

    init(context: Context, socket: Socket, index: Int, endpoints: [String], now: ContinuousClock.Instant) throws(ZeroMQError) {
        socketIndex = index
        self.endpoints = endpoints
        listeningSince = now
        let address = "inproc://junction-accepts-\(AcceptGuardMonitors.next.wrappingAdd(1, ordering: .relaxed).oldValue)"
        try socket.monitorAccepts(on: address)
        monitor = try Socket(context, type: .pair)
        do {
            try monitor.set(.linger(milliseconds: 0))
            try monitor.connect(address)
        } catch {
            monitor.close()
            throw error
        }
    }

    /// Reads the monitor's events: counts connections, and stops listening when an accept failed
    /// for lack of resources.
    func drain(socket: Socket, now: ContinuousClock.Instant) throws(ZeroMQError) -> [LoopNotice] {
        var starved = 0
        var reason = ""
        while let event = try monitor.receive(wait: false) {
            // libzmq's monitor format: a 16-bit event and a 32-bit value (here errno), then the endpoint.
            guard let head = event.frames.first, head.count >= 6 else { continue }
            let code = Int32(UInt16(head[0]) | UInt16(head[1]) << 8)
            let value = Int32(bitPattern: UInt32(head[2]) | UInt32(head[3]) << 8 | UInt32(head[4]) << 16 | UInt32(head[5]) << 24)
            if code == ZMQ_EVENT_ACCEPTED { connections += 1 }
            if code == ZMQ_EVENT_DISCONNECTED { connections = max(0, connections - 1) }
            guard code == ZMQ_EVENT_ACCEPT_FAILED, Self.starving.contains(value) else { continue }
            starved += 1
            reason = String(cString: strerror(value))
        }
        failures += starved
        guard starved > 0, pausedUntil == nil else { return [] }
        if listeningSince.duration(to: now) > Self.calmAfter { backoff = .seconds(1) }
        for endpoint in endpoints where (try? socket.unbind(endpoint)) != nil { unbound.append(endpoint) }
        pausedUntil = now.advanced(by: backoff)
        let notices = endpoints.map { LoopNotice.acceptsPaused(endpoint: $0, reason: reason, failures: failures, seconds: Self.seconds(backoff)) }
        backoff = min(backoff * 2, Self.maximumBackoff)
        return notices
    }

    /// Listens again once the pause is over; when that fails too, waits longer.
    func resumeIfDue(socket: Socket, now: ContinuousClock.Instant) -> [LoopNotice] {
        guard let until = pausedUntil, now >= until else { return [] }
        var notices: [LoopNotice] = []
        var still: [String] = []
        for endpoint in unbound {
            do {
                try socket.bind(endpoint)
                notices.append(.acceptsResumed(endpoint: endpoint))
            } catch {
                still.append(endpoint)
                notices.append(.rebindFailed(endpoint: endpoint, reason: "\(error)", seconds: Self.seconds(backoff)))
            }
        }
        unbound = still
        if unbound.isEmpty {
            pausedUntil = nil
            listeningSince = now
            failures = 0
        } else {
            pausedUntil = now.advanced(by: backoff)
            backoff = min(backoff * 2, Self.maximumBackoff)
        }
        return notices
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

/// Numbers the monitors' in-process addresses, unique within the process.
private enum AcceptGuardMonitors {
    static let next = Atomic<Int>(0)
}
