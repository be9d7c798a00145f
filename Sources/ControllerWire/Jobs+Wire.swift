import ControllerCore
import Placement
import Topology
import TopologyWire
import Wire

extension JobState {
    /// A state as the wire carries it; nil for unspecified or unknown values.
    public init?(_ wire: Junction_V1_JobState) {
        switch wire {
        case .accepted: self = .accepted
        case .dispatched: self = .dispatched
        case .running: self = .running
        case .succeeded: self = .succeeded
        case .failed: self = .failed
        case .cancelled: self = .cancelled
        default: return nil
        }
    }

    public var wire: Junction_V1_JobState {
        switch self {
        case .accepted: .accepted
        case .dispatched: .dispatched
        case .running: .running
        case .succeeded: .succeeded
        case .failed: .failed
        case .cancelled: .cancelled
        }
    }
}

extension JobSpec {
    /// A job spec from the wire; unspecified delivery is at least once.
    public init(_ wire: Junction_V1_JobSpec) {
        self.init(
            command: wire.command, arguments: wire.arguments, environment: wire.environment, resources: Resources(wire.resources),
            name: wire.name, runtimeEstimateS: wire.runtimeEstimateS, gpuShare: wire.hasGpuShare ? LeaseShare(wire.gpuShare) : nil,
            delivery: wire.delivery == .atMostOnce ? .atMostOnce : .atLeastOnce, owner: wire.owner
        )
        tenant = wire.tenant
    }

    public var wire: Junction_V1_JobSpec {
        var wire = Junction_V1_JobSpec()
        wire.command = command
        wire.arguments = arguments
        wire.environment = environment
        wire.resources = resources.wire
        wire.name = name
        wire.runtimeEstimateS = runtimeEstimateS
        if let gpuShare { wire.gpuShare = gpuShare.wire }
        wire.delivery = delivery == .atMostOnce ? .atMostOnce : .atLeastOnce
        wire.owner = owner
        wire.tenant = tenant
        return wire
    }
}

extension JobUsage {
    public init(_ wire: Junction_V1_Usage) {
        self.init(wallSeconds: wire.wallSeconds, coreSeconds: wire.coreSeconds, gpuSeconds: wire.gpuSeconds, bytesIn: wire.bytesIn, bytesOut: wire.bytesOut)
    }

    public var wire: Junction_V1_Usage {
        var wire = Junction_V1_Usage()
        wire.wallSeconds = wallSeconds
        wire.coreSeconds = coreSeconds
        wire.gpuSeconds = gpuSeconds
        wire.bytesIn = bytesIn
        wire.bytesOut = bytesOut
        return wire
    }
}

extension JobTransition {
    public init(_ wire: Junction_V1_JobTransition) {
        self.init(state: JobState(wire.state) ?? .accepted, timestampMs: wire.timestampMs, pool: wire.pool, reason: wire.reason)
    }

    public var wire: Junction_V1_JobTransition {
        var wire = Junction_V1_JobTransition()
        wire.state = state.wire
        wire.timestampMs = timestampMs
        wire.pool = pool
        wire.reason = reason
        return wire
    }
}

extension JobView {
    /// A job as the wire (or the store) describes it. The estimate's GPU model is not on the
    /// wire: it is the spec's.
    public init(_ wire: Junction_V1_JobInfo) {
        let spec = JobSpec(wire.spec)
        let gpuModel = spec.gpuShare?.model ?? spec.resources.gpus.keys.sorted().first
        self.init(
            id: wire.jobID, state: JobState(wire.state) ?? .accepted, pool: wire.pool, path: wire.path,
            estimate: wire.hasEstimate ? Estimate(wire.estimate, gpuModel: gpuModel) : nil, exitCode: wire.exitCode,
            usage: wire.hasUsage ? JobUsage(wire.usage) : nil, attempts: wire.attempts, message: wire.message,
            submittedMs: wire.submittedMs, updatedMs: wire.updatedMs, spec: spec, history: wire.history.map(JobTransition.init), output: wire.output,
            charge: wire.hasCharge ? JobCharge(wire.charge) : nil, dispatchPrice: wire.hasDispatchPrice ? Price(wire.dispatchPrice) : nil
        )
        plannedStartMs = wire.plannedStartMs
    }

    public var wire: Junction_V1_JobInfo {
        var wire = Junction_V1_JobInfo()
        wire.jobID = id
        wire.state = state.wire
        wire.pool = pool
        wire.path = path
        if let estimate { wire.estimate = estimate.wire }
        wire.exitCode = exitCode
        if let usage { wire.usage = usage.wire }
        wire.attempts = attempts
        wire.message = message
        wire.submittedMs = submittedMs
        wire.updatedMs = updatedMs
        wire.spec = spec.wire
        wire.history = history.map(\.wire)
        wire.output = output
        if let charge { wire.charge = charge.wire }
        if let dispatchPrice { wire.dispatchPrice = dispatchPrice.wire }
        wire.plannedStartMs = plannedStartMs
        return wire
    }
}

extension JobCharge {
    public init(_ wire: Junction_V1_Charge) {
        self.init(coreSeconds: wire.coreSeconds, gpuSeconds: wire.gpuSeconds, memoryGiBSeconds: wire.memoryGibSeconds, bytesMoved: wire.bytesMoved, cost: wire.cost)
    }

    public var wire: Junction_V1_Charge {
        var wire = Junction_V1_Charge()
        wire.coreSeconds = coreSeconds
        wire.gpuSeconds = gpuSeconds
        wire.memoryGibSeconds = memoryGiBSeconds
        wire.bytesMoved = bytesMoved
        wire.cost = cost
        return wire
    }
}
