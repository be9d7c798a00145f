import ControllerCore
import ControllerWire
import Foundation
import Logging
import NIOCore
import NIOSSL
import Placement
import PostgresNIO
import Synchronization
import Wire

/// Where a PostgreSQL database is, from a `postgres://user:password@host:port/database` URL.
public struct PostgresLocation: Sendable, Hashable {
    public enum TLSMode: String, Sendable, Hashable {
        case disable, prefer, require
    }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var tls: TLSMode

    /// Reads a URL as libpq does for the parts Junction uses; `sslmode` may be `disable`,
    /// `prefer` (the default) or `require`.
    public init(url: String) throws {
        guard let parts = URLComponents(string: url), ["postgres", "postgresql"].contains(parts.scheme ?? "") else {
            throw StoreError("\(Self.redacted(url)) is not a PostgreSQL URL: write postgres://user:password@host:port/database")
        }
        guard let host = parts.host, !host.isEmpty else { throw StoreError("\(Self.redacted(url)) names no host") }
        guard let user = parts.user, !user.isEmpty else { throw StoreError("\(Self.redacted(url)) names no user (postgres://user@host/database)") }
        let database = String(parts.path.drop { $0 == "/" })
        guard !database.isEmpty else { throw StoreError("\(Self.redacted(url)) names no database (postgres://user@host/database)") }
        if let port = parts.port, !(1...65_535).contains(port) { throw StoreError("\(Self.redacted(url)): the port must be from 1 to 65535") }
        var tls = TLSMode.prefer
        for item in parts.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let mode = TLSMode(rawValue: item.value ?? "") else {
                    throw StoreError("\(Self.redacted(url)): sslmode must be disable, prefer or require, not \(item.value ?? "nothing")")
                }
                tls = mode
            default:
                throw StoreError("\(Self.redacted(url)): unknown parameter \(item.name) (only sslmode is read)")
            }
        }
        self.host = host
        port = parts.port ?? 5432
        self.user = user
        password = parts.password.map { $0.removingPercentEncoding ?? $0 }
        self.database = database
        self.tls = tls
    }

    /// The URL without its password, for messages and logs.
    public var description: String { "postgres://\(user)@\(host):\(port)/\(database)" }

    static func redacted(_ url: String) -> String {
        guard var parts = URLComponents(string: url), parts.password != nil else { return url }
        parts.password = "***"
        return parts.string ?? url
    }
}

/// The controller's store in a PostgreSQL database that several controllers share, with the
/// lease that makes one of them the leader. Every call blocks its caller (the controller's loop
/// thread) for at most `timeout`; a connection that breaks is opened again on the next call.
public final class PostgresStore: ControllerStore, LeaderElection {
    private struct State {
        var connection: PostgresConnection?
        var nextConnectionID = 1
        /// The epoch of the lease this controller holds; nil when it does not lead.
        var epoch: UInt64?
        /// The counters last read or written, which a commit without counters writes again.
        var counters = DurableCounters()
    }

    public let location: PostgresLocation
    private let timeout: TimeAmount
    private let logger: Logger
    private let state = Mutex(State())
    private let tls: PostgresConnection.Configuration.TLS

    /// Connects and brings the schema up to date (creating it in an empty database). Throws
    /// when the database cannot be reached within `timeout` or the schema cannot be made.
    public init(location: PostgresLocation, timeout: Duration = .seconds(5), logger: Logger = Logger(label: "junction-store")) throws {
        self.location = location
        self.timeout = .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)
        self.logger = logger
        switch location.tls {
        case .disable: tls = .disable
        case .prefer: tls = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        case .require: tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
        try migrate()
    }

    // MARK: Statements

    /// Runs the queries in order on one connection without waiting between them, then waits
    /// for all of them (at most `timeout`); the first failure is thrown.
    @discardableResult
    private func run(_ queries: [PostgresQuery]) throws -> [PostgresQueryResult] {
        try state.withLock { state in
            let connection = try open(&state)
            let deadline = connection.eventLoop.scheduleTask(in: timeout) { [logger, timeout] in
                logger.warning("the store did not answer within \(timeout.nanoseconds / 1_000_000) ms; closing the connection")
                let closing: EventLoopFuture<Void> = connection.close()
                _ = closing
            }
            defer { deadline.cancel() }
            let futures = queries.map { connection.query($0, logger: logger) }
            var results: [PostgresQueryResult] = []
            var failure: (any Error)?
            for future in futures {
                do {
                    results.append(try future.wait())
                } catch {
                    if failure == nil { failure = error }
                }
            }
            if let failure {
                if connection.isClosed { state.connection = nil }
                let error = translate(failure)
                if error.deposed { state.epoch = nil }
                throw error
            }
            return results
        }
    }

    /// Runs the queries as one transaction; a COMMIT turned into ROLLBACK (a statement failed)
    /// is an error too.
    @discardableResult
    private func transaction(_ queries: [PostgresQuery], isolation: String = "") throws -> [PostgresQueryResult] {
        let begin = PostgresQuery(unsafeSQL: isolation.isEmpty ? "BEGIN" : "BEGIN ISOLATION LEVEL \(isolation)")
        var results = try run([begin] + queries + ["COMMIT"])
        guard results.last?.metadata.command == "COMMIT" else { throw StoreError("the store rolled the transaction back") }
        results.removeFirst()
        results.removeLast()
        return results
    }

    private func open(_ state: inout State) throws -> PostgresConnection {
        if let connection = state.connection, !connection.isClosed { return connection }
        state.connection = nil
        var configuration = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.user, password: location.password, database: location.database, tls: tls
        )
        configuration.options.connectTimeout = timeout
        let id = state.nextConnectionID
        state.nextConnectionID += 1
        do {
            let connection = try PostgresConnection.connect(
                on: PostgresConnection.defaultEventLoopGroup.any(), configuration: configuration, id: id, logger: logger
            ).wait()
            state.connection = connection
            return connection
        } catch {
            throw StoreError("cannot reach the store at \(location.description): \(Self.describe(error))")
        }
    }

    private func translate(_ error: any Error) -> StoreError {
        if let error = error as? StoreError { return error }
        let text = Self.describe(error)
        if text.contains(Self.depositionMark) {
            return StoreError("another controller leads now: \(text)", deposed: true)
        }
        return StoreError("the store at \(location.description) failed: \(text)")
    }

    /// What went wrong, in the server's words when it said something.
    private static func describe(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] {
                return "\(message) (\(error.serverInfo?[.sqlState] ?? "no state"))"
            }
            return "\(error.code)"
        }
        return "\(error)"
    }

    private static let depositionMark = "junction: deposed"

    // MARK: Schema

    private func migrate() throws {
        try run(["BEGIN", "SELECT pg_advisory_xact_lock(7410)", "CREATE TABLE IF NOT EXISTS junction_schema (version INTEGER NOT NULL)"])
        do {
            let version = try run(["SELECT COALESCE(MAX(version), 0) FROM junction_schema"])[0].rows.first?.decode(Int.self) ?? 0
            if version < 1 {
                try run(Self.schema + ["INSERT INTO junction_schema(version) VALUES (1)"])
            } else if version > 1 {
                throw StoreError("the store at \(location.description) has schema version \(version), newer than this junction knows (1); upgrade junction")
            }
            try run(["COMMIT"])
        } catch {
            _ = try? run(["ROLLBACK"])
            throw error
        }
    }

    private static let schema: [PostgresQuery] = [
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL)",
        """
        CREATE TABLE jobs (
            number BIGINT PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            state INTEGER NOT NULL,
            finished BOOLEAN NOT NULL,
            submitted_ms BIGINT NOT NULL,
            idempotency_key TEXT,
            info BYTEA NOT NULL,
            request BYTEA NOT NULL,
            dispatch_sequence BIGINT NOT NULL,
            cancel_requested BOOLEAN NOT NULL,
            exclusions TEXT NOT NULL,
            placement_deadline_ms BIGINT NOT NULL,
            owner TEXT,
            ended_ms BIGINT
        )
        """,
        "CREATE INDEX jobs_active ON jobs(number) WHERE NOT finished",
        "CREATE INDEX jobs_idempotency ON jobs(submitted_ms) WHERE idempotency_key IS NOT NULL",
        "CREATE INDEX jobs_owner ON jobs(owner, number) WHERE owner IS NOT NULL",
        "CREATE INDEX jobs_ended ON jobs(ended_ms) WHERE ended_ms IS NOT NULL",
        "CREATE TABLE dispatch_sequences (pool TEXT PRIMARY KEY, sequence BIGINT NOT NULL)",
        // One row: who leads, under which epoch (the fencing token), and until when by the
        // database's clock, so that the controllers' clocks never need to agree.
        """
        CREATE TABLE leader (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            epoch BIGINT NOT NULL,
            holder TEXT NOT NULL,
            pools TEXT NOT NULL,
            clients TEXT NOT NULL,
            events TEXT NOT NULL,
            expires_at TIMESTAMPTZ NOT NULL
        )
        """,
        "INSERT INTO leader VALUES (1, 0, '', '', '', '', '-infinity')",
        // The first statement of every leader transaction. FOR SHARE holds the row until the
        // transaction ends, so a takeover (which updates it) waits for a commit in flight and
        // the new leader reads everything the old one kept.
        """
        CREATE FUNCTION junction_fence(expected BIGINT) RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM 1 FROM leader WHERE id = 1 AND epoch = expected FOR SHARE;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'junction: deposed: epoch % no longer leads', expected;
            END IF;
        END $$
        """,
        // A whole batch in one statement, so a commit costs one round trip to the server
        // whatever the number of jobs: fenced, then arrays of rows upserted (an empty key or
        // owner, and an end of -1, stand for none).
        """
        CREATE FUNCTION junction_commit(
            expected BIGINT, numbers BIGINT[], ids TEXT[], states INTEGER[], finished BOOLEAN[], submitted BIGINT[],
            keys TEXT[], infos BYTEA[], requests BYTEA[], sequences BIGINT[], cancels BOOLEAN[], exclusions TEXT[],
            deadlines BIGINT[], owners TEXT[], ended BIGINT[], next_job BIGINT, next_event BIGINT,
            pools TEXT[], pool_sequences BIGINT[]
        ) RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM junction_fence(expected);
            INSERT INTO jobs(number, id, state, finished, submitted_ms, idempotency_key, info, request,
                             dispatch_sequence, cancel_requested, exclusions, placement_deadline_ms, owner, ended_ms)
            SELECT n, i, st, f, sub, NULLIF(k, ''), inf, req, seq, c, e, d, NULLIF(o, ''), NULLIF(en, -1)
            FROM unnest(numbers, ids, states, finished, submitted, keys, infos, requests, sequences, cancels, exclusions,
                        deadlines, owners, ended) AS t(n, i, st, f, sub, k, inf, req, seq, c, e, d, o, en)
            ON CONFLICT(number) DO UPDATE SET state = excluded.state, finished = excluded.finished,
                info = excluded.info, request = excluded.request, dispatch_sequence = excluded.dispatch_sequence,
                cancel_requested = excluded.cancel_requested, exclusions = excluded.exclusions,
                placement_deadline_ms = excluded.placement_deadline_ms, ended_ms = excluded.ended_ms;
            INSERT INTO meta(key, value) VALUES ('next_job_number', next_job), ('event_sequence', next_event)
            ON CONFLICT(key) DO UPDATE SET value = excluded.value;
            INSERT INTO dispatch_sequences(pool, sequence) SELECT p, q FROM unnest(pools, pool_sequences) AS t(p, q)
            ON CONFLICT(pool) DO UPDATE SET sequence = excluded.sequence WHERE excluded.sequence > dispatch_sequences.sequence;
        END $$
        """,
    ]

    // MARK: LeaderElection

    public func campaign(as advert: ControllerAdvert, leaseMs: Int64) throws -> Campaign {
        let taken = try run(["""
            UPDATE leader SET epoch = epoch + 1, holder = \(advert.name), pools = \(advert.pools), clients = \(advert.clients),
                events = \(advert.events), expires_at = clock_timestamp() + \(leaseMs) * interval '1 millisecond'
            WHERE id = 1 AND expires_at < clock_timestamp() RETURNING epoch
            """])[0]
        if let row = taken.rows.first {
            let epoch = UInt64(try row.decode(Int64.self))
            state.withLock { $0.epoch = epoch }
            return .won(epoch: epoch)
        }
        let current = try run(["SELECT epoch, holder, pools, clients, events FROM leader WHERE id = 1"])[0]
        guard let row = current.rows.first else { return .lost(leader: nil) }
        let (epoch, holder, pools, clients, events) = try row.decode((Int64, String, String, String, String).self)
        return .lost(leader: holder.isEmpty ? nil : ControllerAdvert(name: holder, pools: pools, clients: clients, events: events, epoch: UInt64(epoch)))
    }

    public func renew(leaseMs: Int64) throws {
        guard let epoch = state.withLock({ $0.epoch }) else { throw StoreError("this controller does not lead", deposed: true) }
        let renewed = try run(["""
            UPDATE leader SET expires_at = clock_timestamp() + \(leaseMs) * interval '1 millisecond'
            WHERE id = 1 AND epoch = \(Int64(epoch))
            """])[0]
        guard renewed.metadata.rows == 1 else {
            state.withLock { $0.epoch = nil }
            throw StoreError("another controller took the lead from epoch \(epoch)", deposed: true)
        }
    }

    public func resign() {
        guard let epoch = state.withLock({ $0.epoch }) else { return }
        state.withLock { $0.epoch = nil }
        do {
            try run(["UPDATE leader SET expires_at = '-infinity' WHERE id = 1 AND epoch = \(Int64(epoch))"])
        } catch {
            logger.warning("could not give the lead up; a standby takes over when the lease runs out", metadata: ["error": "\(error)"])
        }
    }

    public func leader() throws -> ControllerAdvert? {
        let rows = try run(["SELECT epoch, holder, pools, clients, events FROM leader WHERE id = 1 AND expires_at >= clock_timestamp()"])[0].rows
        guard let row = rows.first else { return nil }
        let (epoch, holder, pools, clients, events) = try row.decode((Int64, String, String, String, String).self)
        return ControllerAdvert(name: holder, pools: pools, clients: clients, events: events, epoch: UInt64(epoch))
    }

    private func heldEpoch() throws -> Int64 {
        guard let epoch = state.withLock({ $0.epoch }) else {
            throw StoreError("this controller does not lead: take the lease before reading or writing jobs", deposed: true)
        }
        return Int64(epoch)
    }

    // MARK: ControllerStore

    public func recover(nowMs: Int64, idempotencyWindowS: Double) throws -> RecoveredState {
        let epoch = try heldEpoch()
        let since = nowMs - Int64(idempotencyWindowS * 1_000)
        let results = try transaction([
            "SELECT junction_fence(\(epoch))",
            "SELECT key, value FROM meta",
            "SELECT MAX(number) FROM jobs",
            "SELECT pool, sequence FROM dispatch_sequences",
            "SELECT \(unescaped: Self.recordColumns) FROM jobs WHERE NOT finished ORDER BY number",
            "SELECT idempotency_key, id FROM jobs WHERE idempotency_key IS NOT NULL AND submitted_ms >= \(since)",
        ], isolation: "REPEATABLE READ")
        var counters = DurableCounters(epoch: UInt64(epoch))
        for row in results[1].rows {
            let (key, value) = try row.decode((String, Int64).self)
            switch key {
            case "next_job_number": counters.nextJobNumber = UInt64(max(1, value))
            case "event_sequence": counters.eventSequence = UInt64(max(0, value))
            default: break
            }
        }
        if let highest = try results[2].rows.first?.decode(Int64?.self) {
            counters.nextJobNumber = max(counters.nextJobNumber, UInt64(max(0, highest)) + 1)
        }
        for row in results[3].rows {
            let (pool, sequence) = try row.decode((String, Int64).self)
            counters.dispatchSequences[pool] = UInt64(max(0, sequence))
        }
        let jobs = try results[4].rows.map(Self.record)
        var keys: [String: String] = [:]
        for row in results[5].rows {
            let (key, id) = try row.decode((String, String).self)
            keys[key] = id
        }
        state.withLock { $0.counters = counters }
        return RecoveredState(counters: counters, jobs: jobs, idempotencyKeys: keys)
    }

    public func commit(jobs: [StoredJob], counters given: DurableCounters?) throws {
        // One statement either way: the counters' rows are written again as they stand.
        let counters = given ?? state.withLock { DurableCounters(nextJobNumber: $0.counters.nextJobNumber, eventSequence: $0.counters.eventSequence) }
        let epoch = try heldEpoch()
        var numbers: [Int64] = [], ids: [String] = [], states: [Int32] = [], finished: [Bool] = [], submitted: [Int64] = []
        var keys: [String] = [], infos: [ByteBuffer] = [], requests: [ByteBuffer] = [], sequences: [Int64] = [], cancels: [Bool] = []
        var exclusions: [String] = [], deadlines: [Int64] = [], owners: [String] = [], ended: [Int64] = []
        for job in jobs {
            numbers.append(Int64(job.number))
            ids.append(job.job.id)
            states.append(Int32(job.job.state.wire.rawValue))
            finished.append(job.isFinished)
            submitted.append(job.job.submittedMs)
            keys.append(job.idempotencyKey)
            infos.append(ByteBuffer(bytes: try job.job.wire.serializedBytes() as [UInt8]))
            requests.append(ByteBuffer(bytes: try job.request.wire.serializedBytes() as [UInt8]))
            sequences.append(Int64(job.dispatchSequence))
            cancels.append(job.cancelRequested)
            exclusions.append(job.exclusionsText)
            deadlines.append(job.placementDeadlineMs)
            owners.append(job.job.spec.owner)
            ended.append(job.isFinished ? job.job.updatedMs : -1)
        }
        let changed = counters.dispatchSequences.sorted { $0.key < $1.key }
        let pools = changed.map(\.key)
        let poolSequences = changed.map { Int64($0.value) }
        try run(["""
            SELECT junction_commit(\(epoch), \(numbers), \(ids), \(states), \(finished), \(submitted), \(keys), \(infos), \(requests),
                \(sequences), \(cancels), \(exclusions), \(deadlines), \(owners), \(ended), \(Int64(counters.nextJobNumber)),
                \(Int64(counters.eventSequence)), \(pools), \(poolSequences))
            """])
        if let given { state.withLock { $0.counters = given } }
    }

    public func answer(_ query: StoreQuery) throws -> StoreAnswer {
        func lookUp(_ ids: [String], owner: String?) throws -> StoreAnswer {
            let results = try run(ids.map { "SELECT info, owner FROM jobs WHERE id = \($0)" })
            var infos: [JobView] = []
            for (id, result) in zip(ids, results) {
                guard let row = result.rows.first else { return .missing(id) }
                let (info, rowOwner) = try row.decode((Data, String?).self)
                if let owner, (rowOwner ?? "") != owner { return .foreign(id) }
                infos.append(JobView(try Junction_V1_JobInfo(serializedBytes: info)))
            }
            return .jobs(infos, nextCursor: "")
        }
        switch query {
        case .jobs(let ids, let owner):
            return try lookUp(ids, owner: owner)
        case .cancelFinished(let id, let owner):
            return try lookUp([id], owner: owner)
        case .usage(let query, let owner):
            let rows = try run([owner.map { owner in
                "SELECT info FROM jobs WHERE ended_ms >= \(query.sinceMs) AND ended_ms < \(query.untilMs) AND owner = \(owner)"
            } ?? "SELECT info FROM jobs WHERE ended_ms >= \(query.sinceMs) AND ended_ms < \(query.untilMs)"])[0].rows
            var sums = UsageAccumulator(by: query.by)
            for row in rows { sums.add(JobView(try Junction_V1_JobInfo(serializedBytes: try row.decode(Data.self)))) }
            return .usage(sums.summary)
        case .page(let after, let limit, let activeOnly, let owner):
            let first = Int64(clamping: after)
            let active = activeOnly ? "AND NOT finished" : ""
            let rows = try run([owner.map { owner in
                "SELECT number, info FROM jobs WHERE number > \(first) \(unescaped: active) AND owner = \(owner) ORDER BY number LIMIT \(limit + 1)"
            } ?? "SELECT number, info FROM jobs WHERE number > \(first) \(unescaped: active) ORDER BY number LIMIT \(limit + 1)"])[0].rows
            var kept: [(number: Int64, info: JobView)] = []
            for row in rows.prefix(limit) {
                let (number, info) = try row.decode((Int64, Data).self)
                kept.append((number, JobView(try Junction_V1_JobInfo(serializedBytes: info))))
            }
            let next = rows.count > limit ? kept.last.map { "\($0.number)" } ?? "" : ""
            return .jobs(kept.map(\.info), nextCursor: next)
        }
    }

    /// How many jobs the store holds, finished ones included.
    public func jobCount() throws -> Int {
        Int(try run(["SELECT COUNT(*) FROM jobs"])[0].rows.first?.decode(Int64.self) ?? 0)
    }

    /// Closes the connection.
    public func close() {
        let connection = state.withLock { state in
            defer { state.connection = nil }
            return state.connection
        }
        let closing: EventLoopFuture<Void>? = connection?.close()
        try? closing?.wait()
    }

    deinit { close() }

    private static let recordColumns = "info, request, number, dispatch_sequence, cancel_requested, exclusions, idempotency_key, placement_deadline_ms"

    /// A row of `recordColumns`: a start reads every unfinished job this way.
    private static func record(_ row: PostgresRow) throws -> StoredJob {
        let (info, request, number, sequence, cancelRequested, exclusions, key, deadline) =
            try row.decode((Data, Data, Int64, Int64, Bool, String, String?, Int64).self)
        return StoredJob(
            job: JobView(try Junction_V1_JobInfo(serializedBytes: info)),
            request: PlacementRequest(try Junction_V1_PlacementRequest(serializedBytes: request), explain: false),
            number: UInt64(number),
            dispatchSequence: UInt64(sequence),
            cancelRequested: cancelRequested,
            exclusions: StoredJob.exclusions(from: exclusions),
            idempotencyKey: key ?? "",
            placementDeadlineMs: deadline
        )
    }
}
