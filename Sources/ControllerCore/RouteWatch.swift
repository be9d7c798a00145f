import Placement
import Routing
import Topology

/// The routing table of an ingress someone subscribes to, as last published: the controller
/// recomputes it when the state moved on and publishes what changed (`route/<ingress>`, the
/// zguide Clone pattern).
struct WatchedRoutes: Sendable {
    /// Rows by pool, as published; their age since the last advertisement is left out, as it
    /// changes with every tick and says nothing about the route.
    var rows: [String: RouteRow]
    var version: UInt64
    var lastPublished: Double
}

/// What a published route delta carries.
public struct RouteChange: Sendable {
    public var ingress: String
    public var fromVersion: UInt64
    public var toVersion: UInt64
    public var upserted: [RouteEntry]
    public var removed: [String]
    /// Too many rows changed for one event: subscribers ask for the table afresh.
    public var resync: Bool
}

extension ControllerCore {
    /// At most this many ingresses are followed at once.
    static let watchedIngressLimit = 256
    /// Changes to one ingress's table are coalesced into one delta this often at most.
    static let routeDeltaIntervalS = 1.0
    /// A delta with more rows than this is sent as a resync.
    static let routeDeltaRowLimit = 2_000

    /// The table as published: rows by pool, without their age.
    func publishedRows(_ table: RoutingTable) -> [String: RouteRow] {
        var rows: [String: RouteRow] = [:]
        rows.reserveCapacity(table.rows.count)
        for var row in table.rows {
            row.ageS = nil
            rows[row.pool] = row
        }
        return rows
    }

    /// A subscription to `route/<ingress>` starts following that table; the last subscriber
    /// leaving stops it. Other topics, and prefixes of several ingresses, follow nothing.
    mutating func routeSubscription(_ topic: String, subscribed: Bool) {
        guard topic.hasPrefix("route/") else { return }
        let ingress = String(topic.dropFirst("route/".count))
        guard subscribed else {
            watchedRoutes[ingress] = nil
            return
        }
        guard watchedRoutes[ingress] == nil, engine.topology.node(ingress) != nil else { return }
        guard watchedRoutes.count < Self.watchedIngressLimit else {
            count("events.route_subscription_limit")
            log(.warning, "not following the routes of \(ingress): \(Self.watchedIngressLimit) ingresses are followed already")
            return
        }
        if let table = try? engine.routingTable(from: ingress, now: time.seconds) { follow(table) }
    }

    /// A client was just given `table` (the default one for its ingress): when the ingress is
    /// followed, what subscribers hold is brought to the same version now, so the reply and the
    /// published deltas agree.
    mutating func answeredRoutes(_ table: RoutingTable) {
        guard let watched = watchedRoutes[table.ingress], table.version != watched.version else { return }
        publishChanges(to: table)
    }

    private mutating func follow(_ table: RoutingTable) {
        watchedRoutes[table.ingress] = WatchedRoutes(rows: publishedRows(table), version: table.version, lastPublished: time.seconds)
    }

    /// Once a tick: each followed table whose state moved on, and whose last delta is old enough,
    /// is recomputed and its changes published.
    mutating func publishRouteChanges() {
        guard !watchedRoutes.isEmpty else { return }
        for (ingress, watched) in watchedRoutes {
            guard watched.version != engine.version, time.seconds - watched.lastPublished >= Self.routeDeltaIntervalS else { continue }
            guard let table = try? engine.routingTable(from: ingress, now: time.seconds) else {
                // The ingress left the topology in a reload.
                watchedRoutes[ingress] = nil
                continue
            }
            publishChanges(to: table)
        }
    }

    private mutating func publishChanges(to table: RoutingTable) {
        guard let watched = watchedRoutes[table.ingress] else { return }
        let rows = publishedRows(table)
        var upserted: [RouteEntry] = []
        for row in table.rows where watched.rows[row.pool] != rows[row.pool] {
            upserted.append(RouteEntry(row: rows[row.pool]!, pool: engine.pool(row.pool).map(poolView)))
        }
        let removed = watched.rows.keys.filter { rows[$0] == nil }.sorted()
        watchedRoutes[table.ingress] = WatchedRoutes(rows: rows, version: table.version, lastPublished: time.seconds)
        guard !upserted.isEmpty || !removed.isEmpty else {
            // Nothing a subscriber holds changed: the version moves on without an event, and a
            // later delta starts from the version subscribers hold.
            watchedRoutes[table.ingress]?.version = watched.version
            return
        }
        let resync = upserted.count + removed.count > Self.routeDeltaRowLimit
        publish(.route(RouteChange(
            ingress: table.ingress, fromVersion: watched.version, toVersion: table.version,
            upserted: resync ? [] : upserted, removed: resync ? [] : removed, resync: resync
        )))
    }
}
