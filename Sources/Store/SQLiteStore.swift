import ControllerCore
import ControllerWire
import Foundation
import GRDB
import Placement
import Wire

/// The controller's store in one SQLite database (WAL mode) under a state directory, which a lock
/// file keeps to one controller at a time.
public final class SQLiteStore: ControllerStore {
    private let database: DatabasePool
    private let lock: DirectoryLock
    /// The database file.
    public let path: String

    /// Opens (creating when needed) `directory`/jobs.sqlite. Throws when another controller
    /// holds the directory or the database cannot be opened.
    public init(directory: String, sync: StoreSync = .normal) throws {
        try makeDirectory(directory)
        lock = try DirectoryLock(directory: directory)
        path = (directory as NSString).appendingPathComponent("jobs.sqlite")
        var configuration = Configuration()
        configuration.label = "junction-store"
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(sync == .full ? "FULL" : "NORMAL")")
        }
        do {
            database = try DatabasePool(path: path, configuration: configuration)
        } catch {
            throw StoreError("cannot open the job store \(path): \(error)")
        }
        // A newer junction's store is refused, not written to: this version would keep jobs
        // without what the newer one added, and a later upgrade would read them as complete.
        let unknown = try? database.read { db in
            let known = Set(Self.migrator.migrations)
            return try Self.migrator.appliedIdentifiers(db).subtracting(known).sorted()
        }
        if let unknown, !unknown.isEmpty {
            throw StoreError("the job store \(path) was written by a newer junction (schema \(unknown.joined(separator: ", ")), which this one does not know); upgrade junction, or point --state at another directory")
        }
        do {
            try Self.migrator.migrate(database)
        } catch {
            throw StoreError("cannot open the job store \(path): \(error)")
        }
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
                CREATE TABLE jobs (
                    number INTEGER PRIMARY KEY,
                    id TEXT NOT NULL UNIQUE,
                    state INTEGER NOT NULL,
                    finished INTEGER NOT NULL,
                    submitted_ms INTEGER NOT NULL,
                    idempotency_key TEXT,
                    info BLOB NOT NULL,
                    request BLOB NOT NULL,
                    dispatch_sequence INTEGER NOT NULL,
                    cancel_requested INTEGER NOT NULL,
                    exclusions TEXT NOT NULL,
                    placement_deadline_ms INTEGER NOT NULL
                );
                CREATE INDEX jobs_active ON jobs(number) WHERE finished = 0;
                CREATE INDEX jobs_idempotency ON jobs(submitted_ms) WHERE idempotency_key IS NOT NULL;
                CREATE TABLE dispatch_sequences (pool TEXT PRIMARY KEY, sequence INTEGER NOT NULL);
                """)
        }
        // The submitting key, so that a submit key's listing reads only its own jobs' rows.
        migrator.registerMigration("v2-owner") { db in
            try db.execute(sql: "ALTER TABLE jobs ADD COLUMN owner TEXT")
            let owned = try db.makeStatement(sql: "UPDATE jobs SET owner = ? WHERE number = ?")
            for row in try Row.fetchAll(db, sql: "SELECT number, info FROM jobs") {
                let owner = JobView(try Junction_V1_JobInfo(serializedBytes: row["info"] as Data)).spec.owner
                if !owner.isEmpty { try owned.execute(arguments: [owner, row["number"] as Int64]) }
            }
            try db.execute(sql: "CREATE INDEX jobs_owner ON jobs(owner, number) WHERE owner IS NOT NULL")
        }
        // When a job ended, so that usage over a period reads only that period's rows.
        migrator.registerMigration("v3-ended") { db in
            try db.execute(sql: "ALTER TABLE jobs ADD COLUMN ended_ms INTEGER")
            let ended = try db.makeStatement(sql: "UPDATE jobs SET ended_ms = ? WHERE number = ?")
            for row in try Row.fetchAll(db, sql: "SELECT number, info FROM jobs WHERE finished = 1") {
                let info = JobView(try Junction_V1_JobInfo(serializedBytes: row["info"] as Data))
                try ended.execute(arguments: [info.updatedMs, row["number"] as Int64])
            }
            try db.execute(sql: "CREATE INDEX jobs_ended ON jobs(ended_ms) WHERE ended_ms IS NOT NULL")
        }
        return migrator
    }

    public func recover(nowMs: Int64, idempotencyWindowS: Double) throws -> RecoveredState {
        try database.write { db in
            var counters = DurableCounters()
            for row in try Row.fetchAll(db, sql: "SELECT key, value FROM meta") {
                let value: Int64 = row["value"]
                switch row["key"] as String {
                case "next_job_number": counters.nextJobNumber = UInt64(max(1, value))
                case "event_sequence": counters.eventSequence = UInt64(max(0, value))
                case "epoch": counters.epoch = UInt64(max(0, value)) + 1
                default: break
                }
            }
            // Never behind the jobs themselves, whatever the counter row says.
            if let highest = try Int64.fetchOne(db, sql: "SELECT MAX(number) FROM jobs") {
                counters.nextJobNumber = max(counters.nextJobNumber, UInt64(highest) + 1)
            }
            for row in try Row.fetchAll(db, sql: "SELECT pool, sequence FROM dispatch_sequences") {
                counters.dispatchSequences[row["pool"]] = UInt64(max(0, row["sequence"] as Int64))
            }
            try db.execute(sql: "INSERT INTO meta(key, value) VALUES('epoch', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", arguments: [Int64(counters.epoch)])
            let jobs = try Row.fetchAll(db, sql: "SELECT \(Self.recordColumns) FROM jobs WHERE finished = 0 ORDER BY number").map(Self.record)
            var keys: [String: String] = [:]
            let since = nowMs - Int64(idempotencyWindowS * 1_000)
            for row in try Row.fetchAll(db, sql: "SELECT idempotency_key, id FROM jobs WHERE idempotency_key IS NOT NULL AND submitted_ms >= ?", arguments: [since]) {
                keys[row["idempotency_key"]] = row["id"]
            }
            return RecoveredState(counters: counters, jobs: jobs, idempotencyKeys: keys)
        }
    }

    public func commit(jobs: [StoredJob], counters: DurableCounters?) throws {
        do {
            try commitBatch(jobs, counters)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL {
            throw StoreError("cannot write the job store \(path): its disk is full (\(error)); free space there and start the controller again")
        } catch {
            throw StoreError("cannot write the job store \(path): \(error)")
        }
    }

    private func commitBatch(_ jobs: [StoredJob], _ counters: DurableCounters?) throws {
        // The transaction's two statements are prepared once: through `write`, GRDB would parse
        // BEGIN and COMMIT again on every commit, about a sixth of a one-job commit's time.
        try database.writeWithoutTransaction { db in
            try db.cachedStatement(sql: "BEGIN IMMEDIATE").execute()
            do {
                try write(jobs, counters, db)
                try db.cachedStatement(sql: "COMMIT").execute()
            } catch {
                if db.isInsideTransaction { try? db.execute(sql: "ROLLBACK") }
                throw error
            }
        }
    }

    private func write(_ jobs: [StoredJob], _ counters: DurableCounters?, _ db: Database) throws {
        // A job's request never changes once submitted, so a job already stored is updated without
        // it: most of a job's commits are its state changes, and each encoded the request again.
        let update = try db.cachedStatement(sql: """
            UPDATE jobs SET state = ?, finished = ?, info = ?, dispatch_sequence = ?, cancel_requested = ?,
                exclusions = ?, placement_deadline_ms = ?, ended_ms = ?
            WHERE number = ?
            """)
        for job in jobs {
            let info = try job.job.wire.serializedData()
            let endedMs = job.isFinished ? job.job.updatedMs : nil
            try update.execute(arguments: [
                job.job.state.wire.rawValue, job.isFinished, info, Int64(job.dispatchSequence), job.cancelRequested,
                job.exclusionsText, job.placementDeadlineMs, endedMs, Int64(job.number),
            ])
            guard db.changesCount == 0 else { continue }
            let insert = try db.cachedStatement(sql: """
                INSERT INTO jobs(number, id, state, finished, submitted_ms, idempotency_key, info, request,
                                 dispatch_sequence, cancel_requested, exclusions, placement_deadline_ms, owner, ended_ms)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            try insert.execute(arguments: [
                Int64(job.number), job.job.id, job.job.state.wire.rawValue, job.isFinished,
                job.job.submittedMs, job.idempotencyKey.isEmpty ? nil : job.idempotencyKey,
                info, try job.request.wire.serializedData(),
                Int64(job.dispatchSequence), job.cancelRequested, job.exclusionsText, job.placementDeadlineMs,
                job.job.spec.owner.isEmpty ? nil : job.job.spec.owner, endedMs,
            ])
        }
        guard let counters else { return }
        let meta = try db.cachedStatement(sql: "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
        try meta.execute(arguments: ["next_job_number", Int64(counters.nextJobNumber)])
        try meta.execute(arguments: ["event_sequence", Int64(counters.eventSequence)])
        try meta.execute(arguments: ["epoch", Int64(counters.epoch)])
        let sequence = try db.cachedStatement(sql: """
            INSERT INTO dispatch_sequences(pool, sequence) VALUES (?, ?)
            ON CONFLICT(pool) DO UPDATE SET sequence = excluded.sequence WHERE excluded.sequence > sequence
            """)
        for (pool, value) in counters.dispatchSequences { try sequence.execute(arguments: [pool, Int64(value)]) }
    }

    public func answer(_ query: StoreQuery) throws -> StoreAnswer {
        try database.read { db in
            func lookUp(_ ids: [String], owner: String?) throws -> StoreAnswer {
                var infos: [JobView] = []
                for id in ids {
                    guard let row = try Row.fetchOne(db, sql: "SELECT info, owner FROM jobs WHERE id = ?", arguments: [id]) else { return .missing(id) }
                    if let owner, (row["owner"] as String?) ?? "" != owner { return .foreign(id) }
                    infos.append(JobView(try Junction_V1_JobInfo(serializedBytes: row["info"] as Data)))
                }
                return .jobs(infos, nextCursor: "")
            }
            switch query {
            case .jobs(let ids, let owner):
                return try lookUp(ids, owner: owner)
            case .cancelFinished(let id, let owner):
                return try lookUp([id], owner: owner)
            case .usage(let query, let owner):
                var sql = "SELECT info FROM jobs WHERE ended_ms >= ? AND ended_ms < ?"
                var arguments: StatementArguments = [query.sinceMs, query.untilMs]
                if let owner {
                    sql += " AND owner = ?"
                    arguments += [owner]
                }
                // A cursor, not an array: a month of jobs is summed without holding them all.
                let infos = try Data.fetchCursor(db, sql: sql, arguments: arguments)
                var sums = UsageAccumulator(by: query.by)
                while let data = try infos.next() {
                    sums.add(JobView(try Junction_V1_JobInfo(serializedBytes: data)))
                }
                return .usage(sums.summary)
            case .page(let after, let limit, let activeOnly, let owner):
                var filter = activeOnly ? "AND finished = 0" : ""
                var arguments: StatementArguments = [Int64(clamping: after)]
                if let owner {
                    filter += " AND owner = ?"
                    arguments += [owner]
                }
                arguments += [limit + 1]
                let rows = try Row.fetchAll(db, sql: "SELECT number, info FROM jobs WHERE number > ? \(filter) ORDER BY number LIMIT ?", arguments: arguments)
                let kept = rows.prefix(limit)
                let infos = try kept.map { JobView(try Junction_V1_JobInfo(serializedBytes: $0["info"] as Data)) }
                let next = rows.count > limit ? kept.last.map { "\($0["number"] as Int64)" } ?? "" : ""
                return .jobs(infos, nextCursor: next)
            }
        }
    }

    /// How many jobs the store holds, finished ones included.
    public func jobCount() throws -> Int {
        try database.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM jobs") ?? 0 }
    }

    private static let recordColumns = "info, request, number, dispatch_sequence, cancel_requested, exclusions, idempotency_key, placement_deadline_ms"

    /// A row of `recordColumns`, read by position: a start reads every unfinished job this way.
    private static func record(_ row: Row) throws -> StoredJob {
        StoredJob(
            job: JobView(try Junction_V1_JobInfo(serializedBytes: row[0] as Data)),
            request: PlacementRequest(try Junction_V1_PlacementRequest(serializedBytes: row[1] as Data), explain: false),
            number: UInt64(row[2] as Int64),
            dispatchSequence: UInt64(row[3] as Int64),
            cancelRequested: row[4],
            exclusions: StoredJob.exclusions(from: row[5]),
            idempotencyKey: row[6] ?? "",
            placementDeadlineMs: row[7]
        )
    }
}

/// Creates `path` and its parents as needed, with an error that names the failing part.
private func makeDirectory(_ path: String) throws {
    var current = path.hasPrefix("/") ? "" : "."
    for part in path.split(separator: "/") {
        current += "/" + part
        if mkdir(current, 0o755) != 0, errno != EEXIST {
            throw StoreError("cannot create the state directory \(current): \(String(cString: strerror(errno))); pick another with --state")
        }
    }
    var info = stat()
    guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
        throw StoreError("the state directory \(path) is not a directory; pick another with --state")
    }
}

/// An exclusive lock on a state directory, held for the life of the process (released by the
/// kernel when it dies, however it dies).
final class DirectoryLock: Sendable {
    let descriptor: Int32

    init(directory: String) throws {
        let path = (directory as NSString).appendingPathComponent("lock")
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw StoreError("cannot open \(path): \(String(cString: strerror(errno)))") }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(descriptor)
            throw StoreError("another controller uses the state directory \(directory)\(holder.isEmpty ? "" : " (pid \(holder))"); stop it or pick another --state")
        }
        ftruncate(descriptor, 0)
        let pid = "\(getpid())\n"
        _ = pid.withCString { write(descriptor, $0, strlen($0)) }
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }
}
