import Wire

/// A routing table held by a subscriber of `route/<ingress>` events: taken whole with a routes
/// request, then kept current by the controller's deltas (Protocols/README.md, route deltas).
public struct RouteFollower: Sendable {
    /// What a delta did to the table.
    public enum Outcome: Sendable, Equatable {
        /// Applied: the table is now at the delta's `to_version`.
        case applied
        /// Already in the table: it was taken at or after this delta.
        case alreadyHeld
        /// A delta was missed, or the controller asked for a resync: take the table again.
        case needsTable
    }

    public let ingress: String
    /// The table's rows by pool.
    public private(set) var rows: [String: Junction_V1_RouteRow]
    /// The version the table was taken at, or of the last delta applied.
    public private(set) var version: UInt64
    /// Whether a delta has been applied since the table was taken: after the first, each must
    /// follow on from the last.
    private var chained = false

    /// Starts from the pages of one routes request (no data, no bandwidth, no alternatives).
    public init(ingress: String, pages: [Junction_V1_RoutesReply]) {
        self.ingress = ingress
        rows = [:]
        for page in pages {
            for row in page.rows { rows[row.pool] = row }
        }
        // Pages taken at different versions stand at the oldest: every later delta applies.
        version = pages.map(\.version).min() ?? 0
    }

    public mutating func apply(_ delta: Junction_V1_RouteDelta) -> Outcome {
        guard delta.ingress == ingress else { return .alreadyHeld }
        if delta.resync { return .needsTable }
        if delta.toVersion <= version { return .alreadyHeld }
        let follows = chained ? delta.fromVersion == version : delta.fromVersion <= version
        guard follows else { return .needsTable }
        for row in delta.upserted { rows[row.pool] = row }
        for pool in delta.removed { rows[pool] = nil }
        version = delta.toVersion
        chained = true
        return .applied
    }

    /// Takes every page of the table: the version must not move between pages, or it starts again.
    public static func take(ingress: String, from client: JunctionClient, attempts: Int = 5) async throws(ClientError) -> RouteFollower {
        var last: [Junction_V1_RoutesReply] = []
        for _ in 0..<max(1, attempts) {
            var pages: [Junction_V1_RoutesReply] = []
            var request = Junction_V1_RoutesRequest()
            request.ingress = ingress
            repeat {
                let page = try await client.routes(request)
                pages.append(page)
                request.cursor = page.nextCursor
            } while !request.cursor.isEmpty
            if Set(pages.map(\.version)).count == 1 { return RouteFollower(ingress: ingress, pages: pages) }
            last = pages
        }
        // The state kept moving under a table of many pages: it stands at its oldest page's version.
        return RouteFollower(ingress: ingress, pages: last)
    }
}
