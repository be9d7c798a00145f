import Placement
import Topology

/// What a pool agent says to the controller.
public enum PoolMessage: Sendable {
    case register(PoolRegistration)
    case heartbeat
    case advertisement(PoolAdvertisement)
    case dispatchAnswer(DispatchAnswer)
    case jobReport(JobReport)
    case goodbye(reason: String)
    /// A message of the protocol that a pool does not send (named by its kind).
    case unexpected(kind: String)
}

/// A pool agent joining: who it is, what it has, and what it still runs.
public struct PoolRegistration: Sendable, Hashable {
    public var poolID: String
    /// The node it is attached to; may be empty for a pool the topology declares.
    public var node: String
    public var total: Resources
    public var labels: [String: String]
    public var price: Price?
    /// Relative speed; 0 keeps the declared one.
    public var speed: Double
    public var runningJobs: [RunningJob]
    /// The highest dispatch sequence the agent has applied.
    public var dispatchSequenceApplied: UInt64
    /// Whether the pool's jobs run on when its agent is gone (a batch system holds them).
    public var jobsOutliveAgent: Bool

    public init(poolID: String, node: String = "", total: Resources = Resources(), labels: [String: String] = [:], price: Price? = nil, speed: Double = 0, runningJobs: [RunningJob] = [], dispatchSequenceApplied: UInt64 = 0, jobsOutliveAgent: Bool = false) {
        self.poolID = poolID
        self.node = node
        self.total = total
        self.labels = labels
        self.price = price
        self.speed = speed
        self.runningJobs = runningJobs
        self.dispatchSequenceApplied = dispatchSequenceApplied
        self.jobsOutliveAgent = jobsOutliveAgent
    }
}

/// A job an agent still runs when it registers.
public struct RunningJob: Sendable, Hashable {
    public var jobID: String
    /// The attempt it runs, or 0 when the agent does not say.
    public var attempt: UInt32

    public init(jobID: String, attempt: UInt32 = 0) {
        self.jobID = jobID
        self.attempt = attempt
    }
}

/// A pool's report of its free capacity.
public struct PoolAdvertisement: Sendable, Hashable {
    public var poolID: String
    public var sequence: UInt64
    public var free: Resources
    public var total: Resources?
    public var price: Price?
    public var queueWaitS: Double
    public var processingLatencyMs: Double
    /// Relative speed; 0 keeps the current one.
    public var speed: Double
    public var dispatchSequenceApplied: UInt64

    public init(poolID: String, sequence: UInt64, free: Resources, total: Resources? = nil, price: Price? = nil, queueWaitS: Double = 0, processingLatencyMs: Double = 0, speed: Double = 0, dispatchSequenceApplied: UInt64 = 0) {
        self.poolID = poolID
        self.sequence = sequence
        self.free = free
        self.total = total
        self.price = price
        self.queueWaitS = queueWaitS
        self.processingLatencyMs = processingLatencyMs
        self.speed = speed
        self.dispatchSequenceApplied = dispatchSequenceApplied
    }
}

/// A pool's answer to a dispatch: taken, or refused with a reason.
public struct DispatchAnswer: Sendable, Hashable {
    public var jobID: String
    public var dispatchSequence: UInt64
    public var accepted: Bool
    public var reason: String
    /// The attempt answered, or 0 when the agent does not say.
    public var attempt: UInt32

    public init(jobID: String, dispatchSequence: UInt64, accepted: Bool, reason: String = "", attempt: UInt32 = 0) {
        self.jobID = jobID
        self.dispatchSequence = dispatchSequence
        self.accepted = accepted
        self.reason = reason
        self.attempt = attempt
    }
}

/// A pool's report that a job started or ended.
public struct JobReport: Sendable, Hashable {
    public var jobID: String
    /// Running, succeeded, failed or cancelled; anything else is refused.
    public var state: JobState
    public var exitCode: Int32
    public var usage: JobUsage?
    public var message: String
    /// The attempt reported, or 0 when the agent does not say.
    public var attempt: UInt32
    /// Where the job's files are on the pool (`host:/path`); empty when the agent does not say.
    public var output: String
    /// With `failed`: the job never started, for a reason of the pool's own (a full disk), so
    /// another pool may run it.
    public var poolFault: Bool

    public init(jobID: String, state: JobState, exitCode: Int32 = 0, usage: JobUsage? = nil, message: String = "", attempt: UInt32 = 0, output: String = "", poolFault: Bool = false) {
        self.jobID = jobID
        self.state = state
        self.exitCode = exitCode
        self.usage = usage
        self.message = message
        self.attempt = attempt
        self.output = output
        self.poolFault = poolFault
    }
}

/// What a client asks of the controller.
public enum ClientRequest: Sendable {
    /// Where would this go: a placement with its explanation, nothing held.
    case place(PlacementRequest)
    case submit(Submission)
    case status(StatusQuery)
    case cancel(jobID: String)
    case routes(RoutesQuery)
    case pools(PageRequest)
    /// Active jobs and every pool, with the event sequence they stand at.
    case snapshot(PageRequest)
    /// Read this topology file and use it (an operator's request).
    case reloadTopology(path: String)
    case setLink(LinkChange)
    /// What jobs that ended in a period were charged.
    case usage(UsageQuery)
    /// A request the protocol knows but that is not valid as sent, with why.
    case invalid(String)
    /// A message of the protocol that a client does not send (named by its kind).
    case unexpected(kind: String)
}

/// A job to run: where it may go and what it runs.
public struct Submission: Sendable, Hashable {
    public var request: PlacementRequest
    public var spec: JobSpec
    /// A key that makes a resubmit return the first job instead of a second.
    public var idempotencyKey: String
    /// How long it may wait for a pool; 0 takes the controller's default.
    public var placementDeadlineS: Double

    public init(request: PlacementRequest, spec: JobSpec, idempotencyKey: String = "", placementDeadlineS: Double = 0) {
        self.request = request
        self.spec = spec
        self.idempotencyKey = idempotencyKey
        self.placementDeadlineS = placementDeadlineS
    }
}

/// Which jobs a status request wants: named ones, or a page of all (or of the active ones).
public struct StatusQuery: Sendable, Hashable {
    public var jobIDs: [String]
    public var page: PageRequest
    public var activeOnly: Bool

    public init(jobIDs: [String] = [], page: PageRequest = PageRequest(), activeOnly: Bool = false) {
        self.jobIDs = jobIDs
        self.page = page
        self.activeOnly = activeOnly
    }
}

/// A page of a listing: after `cursor` (empty for the first), at most `limit` (0 for the default).
public struct PageRequest: Sendable, Hashable {
    public var cursor: String
    public var limit: Int

    public init(cursor: String = "", limit: Int = 0) {
        self.cursor = cursor
        self.limit = limit
    }
}

/// The routing table from one ingress, for a transfer of a given size.
public struct RoutesQuery: Sendable, Hashable {
    public var ingress: String
    public var dataBytes: Double
    public var minBandwidthGbps: Double
    /// Further paths per pool, at most 8.
    public var alternatives: Int
    public var page: PageRequest

    public init(ingress: String, dataBytes: Double = 0, minBandwidthGbps: Double = 0, alternatives: Int = 0, page: PageRequest = PageRequest()) {
        self.ingress = ingress
        self.dataBytes = dataBytes
        self.minBandwidthGbps = minBandwidthGbps
        self.alternatives = alternatives
        self.page = page
    }
}

/// A message that could not be read as the protocol's: what to count, and the answer it gets
/// when it said enough to be answered.
public struct UndecodableMessage: Sendable, Hashable {
    /// The reason counted, such as `malformed` or `unsupported_version`.
    public var reason: String
    public var detail: String
    /// The error to answer with, and the correlation id to answer under; nil for garbage.
    public var answer: ControllerError?
    public var correlationID: UInt64

    public init(reason: String, detail: String, answer: ControllerError? = nil, correlationID: UInt64 = 0) {
        self.reason = reason
        self.detail = detail
        self.answer = answer
        self.correlationID = correlationID
    }
}
