import Placement

/// A job as the store keeps it: what a restarted controller needs to carry on with it.
public struct StoredJob: Sendable {
    /// Everything a client sees of the job.
    public var job: JobView
    /// The placement request as submitted (exclusions are kept apart, with their expiry).
    public var request: PlacementRequest
    /// Submission order: job ids are `job-<number>`, never reused.
    public var number: UInt64
    public var dispatchSequence: UInt64
    public var cancelRequested: Bool
    /// Pools the job was lost on or refused by, with the Unix ms when each exclusion ends.
    public var exclusions: [String: Int64]
    public var idempotencyKey: String
    /// Unix ms by which an accepted job must be placed, or 0 for no deadline.
    public var placementDeadlineMs: Int64

    public var isFinished: Bool { job.state.isFinished }

    public init(job: JobView, request: PlacementRequest, number: UInt64, dispatchSequence: UInt64 = 0, cancelRequested: Bool = false, exclusions: [String: Int64] = [:], idempotencyKey: String = "", placementDeadlineMs: Int64 = 0) {
        self.job = job
        self.request = request
        self.number = number
        self.dispatchSequence = dispatchSequence
        self.cancelRequested = cancelRequested
        self.exclusions = exclusions
        self.idempotencyKey = idempotencyKey
        self.placementDeadlineMs = placementDeadlineMs
    }
}

/// The counters a controller must never hand out twice, across any number of restarts.
public struct DurableCounters: Sendable, Hashable {
    /// The number the next job gets.
    public var nextJobNumber: UInt64 = 1
    /// The last event sequence published.
    public var eventSequence: UInt64 = 0
    /// This run's epoch: one more than the previous run's.
    public var epoch: UInt64 = 1
    /// The last dispatch sequence sent to each pool.
    public var dispatchSequences: [String: UInt64] = [:]

    public init(nextJobNumber: UInt64 = 1, eventSequence: UInt64 = 0, epoch: UInt64 = 1, dispatchSequences: [String: UInt64] = [:]) {
        self.nextJobNumber = nextJobNumber
        self.eventSequence = eventSequence
        self.epoch = epoch
        self.dispatchSequences = dispatchSequences
    }
}

/// What a store hands a starting controller: its counters and every job not yet finished, plus
/// the idempotency keys still within their window.
public struct RecoveredState: Sendable {
    public var counters: DurableCounters
    /// The jobs not finished, in submission order (by number).
    public var jobs: [StoredJob]
    /// Idempotency key to job id, for keys not yet expired.
    public var idempotencyKeys: [String: String]

    public init(counters: DurableCounters, jobs: [StoredJob], idempotencyKeys: [String: String] = [:]) {
        self.counters = counters
        self.jobs = jobs
        self.idempotencyKeys = idempotencyKeys
    }
}

/// A question about jobs the core answers from the store rather than from memory, since
/// finished jobs leave memory: the service runs it after the batch is committed.
public enum StoreQuery: Sendable, Hashable {
    /// These jobs, whole; an unknown id is an error naming it, and so is, when `owner` is
    /// given, a job submitted by another key.
    case jobs([String], owner: String? = nil)
    /// A page of jobs in submission order, after the job numbered `after`; only `owner`'s
    /// jobs when it is given.
    case page(after: UInt64, limit: Int, activeOnly: Bool, owner: String? = nil)
    /// Cancel a job the core no longer holds: finished, or never submitted.
    case cancelFinished(String, owner: String? = nil)
    /// What jobs that ended in the query's period were charged, summed.
    case usage(UsageQuery, owner: String? = nil)

    /// The key whose jobs alone the query may answer with, if it is limited.
    public var owner: String? {
        switch self {
        case .jobs(_, let owner), .page(_, _, _, let owner), .cancelFinished(_, let owner), .usage(_, let owner): owner
        }
    }
}

extension ControllerCore {
    /// The durable counters as they stand, with every pool's dispatch sequence.
    public var counters: DurableCounters {
        DurableCounters(nextJobNumber: nextJobNumber, eventSequence: eventSequence, epoch: epoch, dispatchSequences: dispatchSequences)
    }

    /// Event sequences the store is told of ahead of use, and dispatch sequences for each pool.
    /// A commit then writes no counter most of the time; a restart skips what was not used.
    static let reservedEvents: UInt64 = 10_000
    static let reservedDispatches: UInt64 = 1_000

    /// The counters for the store to write now, or nil when nothing handed out since the last
    /// call goes past what the store already holds. The event sequence and the dispatch
    /// sequences are written a block ahead of use; dispatch sequences only for pools whose
    /// block was used up. Job numbers need no block: each one's job row is committed with it,
    /// and a store recovers the next number from its highest row.
    public mutating func takeCounterChanges() -> DurableCounters? {
        var changed: [String: UInt64] = [:]
        for pool in changedSequences {
            let used = dispatchSequences[pool] ?? 0
            if used > reservedDispatchSequences[pool] ?? 0 {
                reservedDispatchSequences[pool] = used + Self.reservedDispatches
                changed[pool] = used + Self.reservedDispatches
            }
        }
        changedSequences.removeAll(keepingCapacity: true)
        let eventsUsedUp = eventSequence > reservedEventSequence
        if eventsUsedUp { reservedEventSequence = eventSequence + Self.reservedEvents }
        guard eventsUsedUp || !changed.isEmpty else { return nil }
        return DurableCounters(nextJobNumber: nextJobNumber, eventSequence: reservedEventSequence, epoch: epoch, dispatchSequences: changed)
    }

    /// Takes over what a store kept: counters, waiting jobs wait again, and dispatched or running
    /// jobs stay on their pools until those pools report them (or fail to, within the liveness
    /// window after they register, or after this start if they never do).
    public mutating func restore(_ state: RecoveredState, now: ControllerTime) -> [ControllerAction] {
        time = now
        actions = []
        nextJobNumber = max(nextJobNumber, state.counters.nextJobNumber)
        eventSequence = max(eventSequence, state.counters.eventSequence)
        epoch = state.counters.epoch
        dispatchSequences.merge(state.counters.dispatchSequences) { max($0, $1) }
        reservedEventSequence = eventSequence
        reservedDispatchSequences = dispatchSequences
        idempotency.merge(state.idempotencyKeys) { current, _ in current }
        let liveness = Double(configuration.livenessMs) / 1_000
        // A store some controller served from before may have had pools: give them time to come back.
        if state.counters.epoch > 1 { rejoinUntil = now.seconds + liveness + configuration.recoveryGraceS }
        var recovered = 0, waiting = 0
        jobs.reserveCapacity(jobs.count + state.jobs.count)
        activeJobs.reserveCapacity(activeJobs.count + state.jobs.count)
        // Stores hand jobs over in submission order: no sort of a hundred thousand records here.
        for record in state.jobs where !record.isFinished {
            var job = Job(record: record, time: time)
            switch job.state {
            case .dispatched, .running:
                awaitingReport[job.id] = now.seconds + liveness + configuration.recoveryGraceS
                recovered += 1
                if let pool = job.pool {
                    job.countedOn = pool
                    onPool[pool, default: []].insert(job.id)
                }
            default:
                job.state = .accepted
                waiting += 1
                waitingJobs.append(job.id)
            }
            setActive(job.id, true)
            jobs[job.id] = job
        }
        log(.notice, "recovered from the store", [
            "epoch": "\(epoch)", "next_job": "job-\(nextJobNumber)", "on_pools": "\(recovered)", "waiting": "\(waiting)",
        ])
        for id in waitingJobs { placeWaiting(id) }
        defer { actions = [] }
        return actions
    }

    /// The job as the store keeps it, with this run's monotonic times turned into Unix ms.
    func record(_ job: Job) -> StoredJob {
        var request = job.request
        request.excludedPools = []
        return StoredJob(
            job: job.view, request: request, number: job.number, dispatchSequence: job.dispatchSequence,
            cancelRequested: job.cancelRequested,
            exclusions: job.exclusions.mapValues { unixMs($0) },
            idempotencyKey: job.idempotencyKey,
            placementDeadlineMs: job.placementDeadline.flatMap { $0.isFinite ? unixMs($0) : nil } ?? 0
        )
    }
}

extension Job {
    /// A job as a record describes it, with times turned back into this run's monotonic seconds.
    init(record: StoredJob, time: ControllerTime) {
        let info = record.job
        func seconds(_ unixMs: Int64) -> Double { time.seconds + Double(unixMs - time.unixMs) / 1_000 }
        var request = record.request
        request.explain = false
        self.init(id: info.id, spec: info.spec, request: request, submittedMs: info.submittedMs, updatedMs: info.updatedMs)
        state = info.state
        // A planned job is on no pool yet: its record names the pool of its plan, which is made
        // again after a restart.
        let planned = info.plannedStartMs > 0
        pool = planned || info.pool.isEmpty ? nil : info.pool
        path = planned ? [] : info.path
        estimate = planned ? nil : info.estimate
        dispatchSequence = record.dispatchSequence
        dispatchedAt = .infinity
        attempts = info.attempts
        exitCode = info.exitCode
        usage = info.usage
        message = info.message
        history = info.history
        output = info.output
        charge = info.charge
        dispatchPrice = info.dispatchPrice
        cancelRequested = record.cancelRequested
        number = record.number
        idempotencyKey = record.idempotencyKey
        exclusions = record.exclusions.mapValues(seconds)
        placementDeadline = record.placementDeadlineMs > 0 ? seconds(record.placementDeadlineMs) : nil
    }
}
