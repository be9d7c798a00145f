import ControllerCore
import ControllerWire
import CoreMetrics
import Synchronization
import Wire

/// What the controller service measures itself, beside what its core counts: the time a
/// placement takes, store commits, refused handshakes.
struct ServiceMetrics: Sendable {
    /// Whether anything records these: without a factory, placements are not timed at all.
    let enabled: Bool
    let placementDuration: CoreMetrics.Timer
    let storeCommit: CoreMetrics.Timer
    let refusedKeys: CoreMetrics.Counter
    let refusedWithoutCurve: CoreMetrics.Counter
    let leading: CoreMetrics.Gauge
    let epoch: CoreMetrics.Gauge
    let leadershipChanges: CoreMetrics.Counter
    let eventSubscribers: CoreMetrics.Gauge
    let subscriptionsRefused: CoreMetrics.Counter

    init(factory: (any MetricsFactory)?) {
        enabled = factory != nil
        let factory = factory ?? NOOPMetricsHandler.instance
        placementDuration = Timer(label: "junction_placement_duration_seconds", factory: factory)
        storeCommit = Timer(label: "junction_store_commit_duration_seconds", factory: factory)
        refusedKeys = Counter(label: "junction_peers_refused_total", dimensions: [("reason", "key_not_allowed")], factory: factory)
        refusedWithoutCurve = Counter(label: "junction_peers_refused_total", dimensions: [("reason", "no_curve")], factory: factory)
        leading = Gauge(label: "junction_controller_leading", factory: factory)
        epoch = Gauge(label: "junction_controller_epoch", factory: factory)
        leadershipChanges = Counter(label: "junction_controller_leadership_changes_total", factory: factory)
        eventSubscribers = Gauge(label: "junction_event_subscribers", factory: factory)
        subscriptionsRefused = Counter(label: "junction_event_subscriptions_refused_total", factory: factory)
    }
}

extension ClientRequest {
    /// Whether answering it runs a placement.
    var isPlacement: Bool {
        switch self {
        case .place, .submit: true
        default: false
        }
    }
}

/// Hands the controller's events, as JSON, to listeners in the process (the dashboard's live
/// stream). With no listener an event costs one atomic load; a listener that falls behind loses
/// its oldest events rather than hold memory.
final class EventFanout: Sendable {
    private let listeners = Mutex<[Int: AsyncStream<[UInt8]>.Continuation]>([:])
    private let count = Atomic<Int>(0)
    private let nextID = Atomic<Int>(0)

    func publish(_ notice: ControllerNotice) {
        guard count.load(ordering: .relaxed) > 0, let json = try? WireMessage(.event(notice.wire)).json() else { return }
        listeners.withLock { listeners in
            for continuation in listeners.values { continuation.yield(json) }
        }
    }

    /// A stream of every event from now on, until the caller stops reading it.
    func subscribe() -> AsyncStream<[UInt8]> {
        let (stream, continuation) = AsyncStream.makeStream(of: [UInt8].self, bufferingPolicy: .bufferingNewest(1_000))
        let id = nextID.add(1, ordering: .relaxed).newValue
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            self.listeners.withLock { _ = $0.removeValue(forKey: id) }
            self.count.subtract(1, ordering: .relaxed)
        }
        listeners.withLock { $0[id] = continuation }
        count.add(1, ordering: .relaxed)
        return stream
    }
}
