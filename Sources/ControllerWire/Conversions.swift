import ControllerCore
import Placement
import Routing
import Topology
import TopologyWire
import Wire

/// Conversions between wire messages and the engine's values.
extension PlacementRequest {
    /// A request from the wire; numbers are checked by the engine. `alternatives` 0 on the wire
    /// asks for `unsetAlternatives` runners-up; more than 20 are served as 20.
    public init(_ wire: Junction_V1_PlacementRequest, explain: Bool, unsetAlternatives: Int = 3) {
        let objective: Objective = switch wire.objective {
        case .cost: .cost
        case .latency: .latency
        default: .completion
        }
        self.init(
            ingress: wire.ingress, cpuCores: wire.cpuCores, memoryBytes: wire.memoryBytes,
            gpuCount: Int(wire.gpuCount), gpuModels: wire.gpuModels, dataBytes: Double(wire.dataBytes),
            minBandwidthGbps: wire.minBandwidthGbps, maxLatencyMs: wire.maxLatencyMs != 0 ? wire.maxLatencyMs : nil,
            runtimeS: wire.runtimeS,
            labels: wire.labels.map { constraint in
                let op: LabelConstraint.Operator = switch constraint.operator {
                case .in: .in
                case .notIn: .notIn
                default: .equals
                }
                return LabelConstraint(constraint.key, op, constraint.values)
            },
            objective: objective,
            alternatives: wire.alternatives > 0 ? Int(min(wire.alternatives, 20)) : unsetAlternatives,
            explain: explain
        )
        // 0 (unset) asks for whole GPUs; anything else the engine checks.
        if wire.gpuShare != 0 { gpuShare = wire.gpuShare }
    }

    public var wire: Junction_V1_PlacementRequest {
        var wire = Junction_V1_PlacementRequest()
        wire.ingress = ingress
        wire.cpuCores = cpuCores
        wire.memoryBytes = memoryBytes
        wire.gpuCount = UInt32(clamping: gpuCount)
        wire.gpuModels = gpuModels
        wire.dataBytes = UInt64(max(0, dataBytes))
        wire.minBandwidthGbps = minBandwidthGbps
        wire.maxLatencyMs = maxLatencyMs ?? 0
        wire.runtimeS = runtimeS
        if isGPUShare { wire.gpuShare = gpuShare }
        wire.labels = labels.map { constraint in
            var wire = Junction_V1_LabelConstraint()
            wire.key = constraint.key
            wire.operator = switch constraint.op {
            case .equals: .equals
            case .in: .in
            case .notIn: .notIn
            }
            wire.values = constraint.values
            return wire
        }
        wire.objective = switch objective {
        case .completion: .completion
        case .cost: .cost
        case .latency: .latency
        }
        wire.alternatives = UInt32(clamping: alternatives)
        return wire
    }
}

extension Estimate {
    /// An estimate as the wire carried it; the GPU model is not on the wire, so it is given.
    public init(_ wire: Junction_V1_Estimate, gpuModel: String?) {
        self.init(
            latencyMs: wire.latencyMs, bottleneckGbps: wire.bottleneckGbps, pathCost: wire.cost, hops: Int(wire.hops),
            transferS: wire.transferS, queueS: wire.queueS, runtimeS: wire.runtimeS, completionS: wire.completionS,
            price: wire.price, processingLatencyMs: 0, gpuModel: gpuModel, startS: wire.startS
        )
    }

    public var wire: Junction_V1_Estimate {
        var wire = Junction_V1_Estimate()
        wire.latencyMs = latencyMs
        wire.bottleneckGbps = bottleneckGbps.isFinite ? bottleneckGbps : 0
        wire.cost = pathCost
        wire.transferS = transferS
        wire.queueS = queueS
        wire.runtimeS = runtimeS
        wire.completionS = completionS
        wire.hops = UInt32(hops)
        wire.price = price
        wire.startS = startS
        return wire
    }
}

extension Candidate {
    public var wire: Junction_V1_Candidate {
        var wire = Junction_V1_Candidate()
        wire.pool = pool
        wire.node = node
        wire.path = path
        wire.estimate = estimate.wire
        return wire
    }
}

extension Placement {
    public var wire: Junction_V1_PlacementReply {
        var wire = Junction_V1_PlacementReply()
        wire.placed = winner != nil
        if let winner { wire.winner = winner.wire }
        wire.runnersUp = runnersUp.map(\.wire)
        wire.rejected = rejections.map { rejection in
            var wire = Junction_V1_Rejection()
            wire.pool = rejection.pool
            wire.check = rejection.check.rawValue
            wire.reason = rejection.reason
            return wire
        }
        wire.routingVersion = version
        return wire
    }
}

extension PoolLiveness {
    /// A pool state as the wire names it; an unknown one (a newer peer's) counts as down.
    init(_ wire: Junction_V1_PoolState) {
        switch wire {
        case .declared, .unspecified: self = .declared
        case .up: self = .up
        case .dampened: self = .dampened
        case .down, .UNRECOGNIZED: self = .down
        }
    }

    var wire: Junction_V1_PoolState {
        switch self {
        case .declared: .declared
        case .up: .up
        case .down: .down
        case .dampened: .dampened
        }
    }
}

extension PoolView {
    /// The wire view of a pool.
    public var wire: Junction_V1_PoolInfo {
        var info = Junction_V1_PoolInfo()
        info.poolID = state.id
        info.node = node
        info.state = state.liveness.wire
        info.free = state.free.wire
        info.total = state.total.wire
        info.reserved = state.reserved.wire
        info.queueWaitS = state.queueWaitS
        info.processingLatencyMs = state.processingLatencyMs
        info.speed = state.speed
        info.price = state.price.wire
        info.labels = state.labels
        info.lastAdvertisementMs = lastAdvertisementMs
        info.advertisementSequence = state.advertisementSequence
        info.runningJobs = UInt32(clamping: runningJobs)
        info.held = held.wire
        info.heldGpuShare = heldGPUShare
        return info
    }
}

extension RoutingTable {
    /// A routing table as a controller sent it.
    public init(wire: Junction_V1_RoutesReply) {
        self.init(ingress: wire.ingress, version: wire.version, rows: wire.rows.map { row in
            let reachable = row.hasPath
            let info = row.poolInfo
            return RouteRow(
                pool: row.pool, node: row.node, path: reachable ? row.path.nodes : [],
                latencyMs: reachable ? row.path.latencyMs : .infinity,
                bottleneckGbps: reachable ? (row.hops == 0 ? .infinity : row.path.bottleneckGbps) : 0,
                cost: reachable ? row.path.cost : .infinity, hops: Int(row.hops),
                available: Resources(info.free), liveness: PoolLiveness(info.state),
                ageS: nil, queueWaitS: info.queueWaitS,
                alternatives: row.alternatives.map(\.nodes), alternativeLatencyMs: row.alternatives.map(\.latencyMs)
            )
        })
    }
}

extension LeaseShare {
    /// A share as a dispatch named it.
    public init(_ wire: Junction_V1_GpuShare) {
        self.init(model: wire.model, gpu: Int(wire.gpu), amount: wire.share)
    }

    /// The share as a dispatch names it.
    public var wire: Junction_V1_GpuShare {
        var wire = Junction_V1_GpuShare()
        wire.model = model
        wire.gpu = UInt32(clamping: gpu)
        wire.share = amount
        return wire
    }
}
