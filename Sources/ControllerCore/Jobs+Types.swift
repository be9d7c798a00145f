import Placement
import Topology

/// Where a job is in its life.
public enum JobState: String, Sendable, Hashable, CaseIterable {
    case accepted, dispatched, running, succeeded, failed, cancelled

    /// Whether the job has ended and will not change again.
    public var isFinished: Bool { self == .succeeded || self == .failed || self == .cancelled }
}

/// What happens to a job whose pool is lost while it may be running.
public enum JobDelivery: String, Sendable, Hashable {
    /// Placed again elsewhere: it may run twice, but it runs (the default).
    case atLeastOnce = "at-least-once"
    /// Failed instead: it never runs twice, and may not finish.
    case atMostOnce = "at-most-once"
}

/// What a job runs, and with what.
public struct JobSpec: Sendable, Hashable {
    public var command: String
    public var arguments: [String]
    public var environment: [String: String]
    public var resources: Resources
    public var name: String
    public var runtimeEstimateS: Double
    /// The share of one GPU the controller assigned: set on dispatch, never by a submit.
    public var gpuShare: LeaseShare?
    public var delivery: JobDelivery
    /// The name of the key that submitted it; set by the controller, empty without keys.
    public var owner: String
    /// The tenant of the key that submitted it, from the access policy; set by the controller.
    public var tenant: String = ""

    public init(command: String, arguments: [String] = [], environment: [String: String] = [:], resources: Resources = Resources(), name: String = "", runtimeEstimateS: Double = 0, gpuShare: LeaseShare? = nil, delivery: JobDelivery = .atLeastOnce, owner: String = "") {
        self.command = command
        self.arguments = arguments
        self.environment = environment
        self.resources = resources
        self.name = name
        self.runtimeEstimateS = runtimeEstimateS
        self.gpuShare = gpuShare
        self.delivery = delivery
        self.owner = owner
    }
}

/// What a job used, as its pool measured it.
public struct JobUsage: Sendable, Hashable {
    public var wallSeconds: Double
    public var coreSeconds: Double
    public var gpuSeconds: Double
    public var bytesIn: UInt64
    public var bytesOut: UInt64

    public init(wallSeconds: Double = 0, coreSeconds: Double = 0, gpuSeconds: Double = 0, bytesIn: UInt64 = 0, bytesOut: UInt64 = 0) {
        self.wallSeconds = wallSeconds
        self.coreSeconds = coreSeconds
        self.gpuSeconds = gpuSeconds
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
    }
}

/// One line of a job's history.
public struct JobTransition: Sendable, Hashable {
    public var state: JobState
    public var timestampMs: Int64
    /// The pool the job was on or reported from; empty when none.
    public var pool: String
    public var reason: String

    public init(state: JobState, timestampMs: Int64, pool: String, reason: String) {
        self.state = state
        self.timestampMs = timestampMs
        self.pool = pool
        self.reason = reason
    }
}

/// A job as clients see it.
public struct JobView: Sendable, Hashable {
    public var id: String
    public var state: JobState
    /// The pool it is placed on; empty when none.
    public var pool: String
    public var path: [String]
    public var estimate: Estimate?
    public var exitCode: Int32
    public var usage: JobUsage?
    /// Placements so far.
    public var attempts: UInt32
    /// The last reason the job changed, for people.
    public var message: String
    public var submittedMs: Int64
    public var updatedMs: Int64
    public var spec: JobSpec
    public var history: [JobTransition]
    /// Where the job's files are on its pool (`host:/path`, with `stdout` and `stderr`).
    public var output: String
    /// What it was charged, once it ended on a pool.
    public var charge: JobCharge?
    /// Its pool's prices when it was dispatched there.
    public var dispatchPrice: Price?
    /// When an accepted job is planned to start on `pool` (Unix ms); 0 when it is not planned.
    public var plannedStartMs: Int64 = 0

    public init(id: String, state: JobState, pool: String = "", path: [String] = [], estimate: Estimate? = nil, exitCode: Int32 = 0, usage: JobUsage? = nil, attempts: UInt32 = 0, message: String = "", submittedMs: Int64, updatedMs: Int64, spec: JobSpec, history: [JobTransition] = [], output: String = "", charge: JobCharge? = nil, dispatchPrice: Price? = nil) {
        self.id = id
        self.state = state
        self.pool = pool
        self.path = path
        self.estimate = estimate
        self.exitCode = exitCode
        self.usage = usage
        self.attempts = attempts
        self.message = message
        self.submittedMs = submittedMs
        self.updatedMs = updatedMs
        self.spec = spec
        self.history = history
        self.output = output
        self.charge = charge
        self.dispatchPrice = dispatchPrice
    }
}

/// A pool as clients see it: its state in the engine, where it is, and what runs there.
public struct PoolView: Sendable, Hashable {
    public var state: PoolState
    /// The id of the node it is attached to.
    public var node: String
    /// Jobs dispatched to it or running on it.
    public var runningJobs: Int
    /// When its last advertisement arrived (Unix ms), or 0.
    public var lastAdvertisementMs: Int64
    /// What its leases hold (the jobs dispatched or running there), and the GPU fractions held
    /// by jobs sharing a GPU.
    public var held: Resources
    public var heldGPUShare: Double

    public init(state: PoolState, node: String, runningJobs: Int, lastAdvertisementMs: Int64, held: Resources = Resources(), heldGPUShare: Double = 0) {
        self.state = state
        self.node = node
        self.runningJobs = runningJobs
        self.lastAdvertisementMs = lastAdvertisementMs
        self.held = held
        self.heldGPUShare = heldGPUShare
    }
}
