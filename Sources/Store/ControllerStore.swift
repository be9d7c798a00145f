import ControllerCore

/// Where the controller keeps what it has promised: jobs, the counters it must never reuse, and
/// idempotency keys. The controller's loop thread is its only user: it commits each batch's
/// changes in one transaction before any reply, dispatch or event of that batch is sent.
public protocol ControllerStore: AnyObject, Sendable {
    /// Reads what a starting controller needs and begins a new epoch (one more than the last).
    func recover(nowMs: Int64, idempotencyWindowS: Double) throws -> RecoveredState
    /// Writes a batch's job changes and, when given, the counters, all or nothing. Without
    /// counters the stored ones stay; dispatch sequences not named keep their stored value, and
    /// a named one never goes down.
    func commit(jobs: [StoredJob], counters: DurableCounters?) throws
    /// Answers a query about jobs, finished ones included.
    func answer(_ query: StoreQuery) throws -> StoreAnswer
}

/// What a store says to a `StoreQuery`.
public enum StoreAnswer: Sendable {
    /// The jobs asked for, and the cursor of the next page (empty on the last).
    case jobs([JobView], nextCursor: String)
    /// A job id the store has never seen.
    case missing(String)
    /// A job submitted by another key than the owner the query was limited to.
    case foreign(String)
    /// What jobs that ended in a period were charged, summed.
    case usage(UsageSummary)
}

/// A failure of the store: what it could not do, and why.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    public var message: String
    /// Another controller took the lead: nothing this one writes is kept any more.
    public var deposed: Bool
    public var description: String { message }

    public init(_ message: String, deposed: Bool = false) {
        self.message = message
        self.deposed = deposed
    }
}

/// How hard a commit tries to survive: a crash of the process, or a loss of power too.
public enum StoreSync: String, Sendable, CaseIterable {
    /// Every acknowledged change survives kill -9 of the controller (SQLite WAL, synchronous=NORMAL).
    case normal
    /// It also survives a power loss: each commit waits for the disk (synchronous=FULL).
    case full
}

extension StoredJob {
    /// Exclusions as stored: `pool=unixMs` pairs joined by commas (pool ids hold no `=` or `,`).
    var exclusionsText: String {
        exclusions.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }

    static func exclusions(from text: String) -> [String: Int64] {
        var result: [String: Int64] = [:]
        for pair in text.split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2, let until = Int64(parts[1]) { result[String(parts[0])] = until }
        }
        return result
    }
}

