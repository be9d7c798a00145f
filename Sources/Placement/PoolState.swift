import Topology

/// Whether a pool can take work.
public enum PoolLiveness: String, Sendable, Hashable {
    /// Declared in the topology; no agent has registered.
    case declared
    case up
    /// Missed its liveness window, or said goodbye.
    case down
    /// Registered, but flapping: no new work until its flap penalty decays.
    case dampened
}

/// A pool as the engine sees it: what it has, what it last reported free, and what leases hold.
public struct PoolState: Sendable, Hashable {
    public var id: String
    public var node: Int
    public var total: Resources
    /// Free resources as last advertised (the total until a first advertisement).
    public var free: Resources
    /// Held by leases whose dispatch the pool's advertisements do not yet reflect.
    public var reserved: Resources
    /// The pool's labels with its node's region and labels.
    public var labels: [String: String]
    public var price: Price
    public var speed: Double
    public var queueWaitS: Double
    public var processingLatencyMs: Double
    public var liveness: PoolLiveness
    /// When the last advertisement arrived, on the engine's clock; nil when none did.
    public var lastAdvertisement: Double?
    public var advertisementSequence: UInt64
    /// The highest dispatch sequence the pool's advertisements reflect.
    public var dispatchSequenceApplied: UInt64
    /// GPUs split among jobs that each use part of one, per model.
    public var sharedGPUs: [String: [SharedGPU]] = [:]

    public init(id: String, node: Int, total: Resources, labels: [String: String] = [:], price: Price = Price(), speed: Double = 1, queueWaitS: Double = 0, processingLatencyMs: Double = 0, liveness: PoolLiveness = .declared) {
        self.id = id
        self.node = node
        self.total = total
        self.free = total
        self.reserved = Resources()
        self.labels = labels
        self.price = price
        self.speed = speed
        self.queueWaitS = queueWaitS
        self.processingLatencyMs = processingLatencyMs
        self.liveness = liveness
        self.lastAdvertisement = nil
        self.advertisementSequence = 0
        self.dispatchSequenceApplied = 0
    }

    /// Free minus reserved: what a new placement may take.
    public var available: Resources {
        var available = free
        available.cpuCores = max(0, free.cpuCores - reserved.cpuCores)
        available.memoryBytes = free.memoryBytes > reserved.memoryBytes ? free.memoryBytes - reserved.memoryBytes : 0
        for (model, count) in reserved.gpus { available.gpus[model] = max(0, (free.gpus[model] ?? 0) - count) }
        return available
    }
}

/// One GPU that jobs share: how much of it they use, and whether the pool's advertisements
/// count it as taken yet.
public struct SharedGPU: Sendable, Hashable {
    /// Which of the pool's shared GPUs of its model, as the dispatch names it.
    public var index: Int
    public var used: Double
    /// The dispatch that first put a job on it.
    public var openedBy: UInt64?
    /// True once the pool's advertisements count the GPU as taken, so it is no longer reserved here.
    public var reflected: Bool

    /// Room left for another share.
    public var room: Double { max(0, 1 - used) }
}

/// A pool's report of its free capacity (the `Advertisement` message, decoded and checked).
public struct PoolReport: Sendable, Hashable {
    public var sequence: UInt64
    public var free: Resources
    public var total: Resources?
    public var queueWaitS: Double
    public var processingLatencyMs: Double
    public var speed: Double?
    public var price: Price?
    public var dispatchSequenceApplied: UInt64

    public init(sequence: UInt64, free: Resources, total: Resources? = nil, queueWaitS: Double = 0, processingLatencyMs: Double = 0, speed: Double? = nil, price: Price? = nil, dispatchSequenceApplied: UInt64 = 0) {
        self.sequence = sequence
        self.free = free
        self.total = total
        self.queueWaitS = queueWaitS
        self.processingLatencyMs = processingLatencyMs
        self.speed = speed
        self.price = price
        self.dispatchSequenceApplied = dispatchSequenceApplied
    }
}

/// An atomic reservation of a pool's resources and bandwidth on every slot of a path.
public struct Lease: Sendable, Hashable {
    public var id: UInt64
    public var pool: String
    public var path: [String]
    public var slots: [Int]
    public var bandwidthGbps: Double
    public var resources: Resources
    public var expiresAt: Double
    /// The dispatch that carries this lease, once dispatched.
    public var dispatchSequence: UInt64?
    /// True once the pool's advertisements reflect the resources, so they are no longer
    /// counted as reserved here.
    public var reflected: Bool
    /// The part of a shared GPU the lease holds, for jobs that share one.
    public var share: LeaseShare?
    /// When it was taken, and when its job is expected to end (moved on while the job overruns).
    public var heldAt: Double
    public var expectedEnd: Double
}

/// The part of a shared GPU a lease holds.
public struct LeaseShare: Sendable, Hashable {
    public var model: String
    public var gpu: Int
    public var amount: Double

    public init(model: String, gpu: Int, amount: Double) {
        self.model = model
        self.gpu = gpu
        self.amount = amount
    }
}

/// Why a hold was refused; nothing was taken.
public enum HoldFailure: Error, Sendable, Hashable, CustomStringConvertible {
    case unknownPool(String)
    case poolUnavailable(String)
    case resources(String)
    case bandwidth(String)

    public var description: String {
        switch self {
        case .unknownPool(let pool): "pool \(pool) is not known"
        case .poolUnavailable(let reason), .resources(let reason), .bandwidth(let reason): reason
        }
    }
}
