import Placement
import Routing
import Topology

/// What the controller tells a pool agent.
public enum PoolCommand: Sendable {
    case welcome(PoolWelcome)
    case heartbeat(timestampMs: Int64)
    case dispatch(JobDispatch)
    /// Stop the job, giving it `graceS` seconds after the polite signal.
    case cancel(jobID: String, graceS: Double)
    case error(ControllerError)
}

/// The answer to a registration: the session and its pace, and jobs to stop.
public struct PoolWelcome: Sendable, Hashable {
    public var poolID: String
    public var node: String
    public var heartbeatIntervalMs: UInt32
    public var livenessMs: UInt32
    public var sessionID: UInt64
    /// Jobs the agent reported that are no longer its own.
    public var stopJobs: [String]
    public var epoch: UInt64

    public init(poolID: String, node: String, heartbeatIntervalMs: UInt32, livenessMs: UInt32, sessionID: UInt64, stopJobs: [String], epoch: UInt64) {
        self.poolID = poolID
        self.node = node
        self.heartbeatIntervalMs = heartbeatIntervalMs
        self.livenessMs = livenessMs
        self.sessionID = sessionID
        self.stopJobs = stopJobs
        self.epoch = epoch
    }
}

/// A job sent to its pool along its path, under its lease.
public struct JobDispatch: Sendable, Hashable {
    public var jobID: String
    public var dispatchSequence: UInt64
    public var spec: JobSpec
    public var path: [String]
    public var leaseID: UInt64
    public var leaseExpiresMs: Int64
    public var attempt: UInt32

    public init(jobID: String, dispatchSequence: UInt64, spec: JobSpec, path: [String], leaseID: UInt64, leaseExpiresMs: Int64, attempt: UInt32) {
        self.jobID = jobID
        self.dispatchSequence = dispatchSequence
        self.spec = spec
        self.path = path
        self.leaseID = leaseID
        self.leaseExpiresMs = leaseExpiresMs
        self.attempt = attempt
    }
}

/// Why a request or message was refused.
public struct ControllerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kinds of refusal, as the protocol numbers them.
    public enum Code: Sendable, Hashable {
        case unsupportedVersion, malformed, unknownMessage, tooLarge, invalidRequest, notFound
        case noPlacement, unknownPool, notRegistered, conflict, unauthorized, `internal`, rateLimited
        /// This controller stands by; another leads.
        case notLeader
    }

    public var code: Code
    public var message: String
    public var description: String { message }

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}

/// What the controller answers a client.
public enum ClientReply: Sendable {
    case placement(Placement)
    case submitted(SubmitResult)
    /// Jobs asked for, and the cursor of the next page (empty on the last).
    case jobs([JobView], nextCursor: String)
    case cancelled(JobView?)
    case routes(RoutesPage)
    case pools([PoolView], nextCursor: String)
    case snapshot(Snapshot)
    case admin(AdminResult)
    case usage(UsageSummary)
    case error(ControllerError)
}

/// A submit's answer: the job's id, where it went and under which lease.
public struct SubmitResult: Sendable {
    public var jobID: String
    /// The placement that took it; nil when an idempotency key returned an earlier job.
    public var placement: Placement?
    public var leaseID: UInt64?
}

/// A page of a routing table: each row with its pool as it stands.
public struct RoutesPage: Sendable {
    public var ingress: String
    public var version: UInt64
    public var rows: [RouteEntry]
    public var nextCursor: String
}

/// One row of a routing table and its pool.
public struct RouteEntry: Sendable {
    public var row: RouteRow
    public var pool: PoolView?
}

/// Active jobs (a page of them) and every pool (on the first page), as of `sequence`.
public struct Snapshot: Sendable {
    public var sequence: UInt64
    public var epoch: UInt64
    public var jobs: [JobView]
    public var pools: [PoolView]
    public var routingVersion: UInt64
    public var nextCursor: String
}

/// An operator request's outcome, with every problem found when it was refused.
public struct AdminResult: Sendable, Hashable {
    public var ok: Bool
    public var message: String
    public var problems: [String]

    public init(ok: Bool, message: String, problems: [String] = []) {
        self.ok = ok
        self.message = message
        self.problems = problems
    }
}

/// An event for observers, in sequence within an epoch.
public struct ControllerNotice: Sendable {
    /// What changed.
    public enum Kind: Sendable {
        case job(JobChange)
        case pool(PoolView, reason: String)
        case route(RouteChange)
    }

    public var sequence: UInt64
    public var epoch: UInt64
    public var timestampMs: Int64
    public var kind: Kind
}

/// A job's change of state, as observers see it.
public struct JobChange: Sendable, Hashable {
    public var jobID: String
    public var state: JobState
    public var pool: String
    public var path: [String]
    public var reason: String
    public var attempt: UInt32
}
