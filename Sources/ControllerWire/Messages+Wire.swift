import ControllerCore
import Placement
import Routing
import Topology
import TopologyWire
import Wire

/// The protobuf side of the controller core: the one place where wire messages become the core's
/// typed inputs and its typed actions become wire messages.
public enum ControllerWire {
    /// The core's input for frames received on the pools or clients endpoint: the ROUTER's
    /// identity frames, then the payload; `caller` names the key the peer authenticated with.
    public static func event(frames: [[UInt8]], on endpoint: Endpoint, caller: String? = nil) -> ControllerEvent {
        guard frames.count >= 2, endpoint == .clients || frames.count == 2 else {
            return .undecodable(endpoint, ClientAddress(frames: Array(frames.prefix(1))), UndecodableMessage(.malformed(detail: "\(frames.count) frames")))
        }
        let address = ClientAddress(frames: Array(frames.dropLast()))
        do {
            let message = try WireMessage(bytes: frames[frames.count - 1])
            switch endpoint {
            case .pools: return .fromPool(peer: frames[0], correlationID: message.correlationID, PoolMessage(message), caller: caller)
            case .clients: return .fromClient(address, correlationID: message.correlationID, ClientRequest(message), caller: caller)
            }
        } catch {
            return .undecodable(endpoint, address, UndecodableMessage(error))
        }
    }

    /// The message a pool command becomes.
    public static func message(_ command: PoolCommand, correlationID: UInt64) -> WireMessage {
        WireMessage(command.wire, correlationID: correlationID)
    }

    /// The message a client reply becomes.
    public static func message(_ reply: ClientReply, correlationID: UInt64) -> WireMessage {
        WireMessage(reply.wire, correlationID: correlationID)
    }
}

extension UndecodableMessage {
    /// What a decoding failure counts as, and the answer it gets: a readable envelope of another
    /// version or kind is answered; garbage is not, since nothing in it says who asks what.
    public init(_ error: WireError) {
        let answered = error.correlationID != 0 || error.code == .unsupportedVersion || error.code == .unknownMessage
        self.init(
            reason: error.name, detail: error.description,
            answer: answered ? ControllerError(ControllerError.Code(error.code), error.description) : nil,
            correlationID: error.correlationID
        )
    }
}

extension PoolMessage {
    /// A pool agent's message as the core takes it.
    public init(_ message: WireMessage) {
        switch message.body {
        case .register(let register):
            self = .register(PoolRegistration(
                poolID: register.poolID, node: register.node, total: Resources(register.total), labels: register.labels,
                price: register.hasPrice ? Price(register.price) : nil, speed: register.speed,
                runningJobs: register.runningJobs.map { RunningJob(jobID: $0.jobID, attempt: $0.attempt) },
                dispatchSequenceApplied: register.dispatchSequenceApplied, jobsOutliveAgent: register.jobsOutliveAgent
            ))
        case .heartbeat:
            self = .heartbeat
        case .advertisement(let advertisement):
            self = .advertisement(PoolAdvertisement(
                poolID: advertisement.poolID, sequence: advertisement.sequence, free: Resources(advertisement.free),
                total: advertisement.hasTotal ? Resources(advertisement.total) : nil,
                price: advertisement.hasPrice ? Price(advertisement.price) : nil,
                queueWaitS: advertisement.queueWaitS, processingLatencyMs: advertisement.processingLatencyMs,
                speed: advertisement.speed, dispatchSequenceApplied: advertisement.dispatchSequenceApplied
            ))
        case .dispatchAck(let ack):
            self = .dispatchAnswer(DispatchAnswer(jobID: ack.jobID, dispatchSequence: ack.dispatchSequence, accepted: ack.accepted, reason: ack.reason, attempt: ack.attempt))
        case .jobUpdate(let update):
            // An unspecified state is refused by the core as it refuses `accepted`.
            self = .jobReport(JobReport(
                jobID: update.jobID, state: JobState(update.state) ?? .accepted, exitCode: update.exitCode,
                usage: update.hasUsage ? JobUsage(update.usage) : nil, message: update.message, attempt: update.attempt, output: update.output,
                poolFault: update.poolFault
            ))
        case .goodbye(let goodbye):
            self = .goodbye(reason: goodbye.reason)
        default:
            self = .unexpected(kind: message.kind)
        }
    }
}

extension ClientRequest {
    /// A client's request as the core takes it.
    public init(_ message: WireMessage) {
        switch message.body {
        case .place(let place):
            self = .place(PlacementRequest(place.request, explain: true))
        case .submit(let submit):
            self = .submit(Submission(
                // A submit's reply names where the job went; runners-up only when asked for.
                request: PlacementRequest(submit.request, explain: false, unsetAlternatives: 0), spec: JobSpec(submit.spec),
                idempotencyKey: submit.idempotencyKey, placementDeadlineS: submit.placementDeadlineS
            ))
        case .status(let status):
            self = .status(StatusQuery(jobIDs: status.jobIds, page: PageRequest(cursor: status.cursor, limit: Int(status.limit)), activeOnly: status.activeOnly))
        case .cancel(let cancel):
            self = .cancel(jobID: cancel.jobID)
        case .routes(let routes):
            self = .routes(RoutesQuery(
                ingress: routes.ingress, dataBytes: Double(routes.dataBytes), minBandwidthGbps: routes.minBandwidthGbps,
                alternatives: Int(routes.alternatives), page: PageRequest(cursor: routes.cursor, limit: Int(routes.limit))
            ))
        case .pools(let pools):
            self = .pools(PageRequest(cursor: pools.cursor, limit: Int(pools.limit)))
        case .usage(let usage):
            if let by = UsageGrouping(rawValue: usage.by.isEmpty ? "owner" : usage.by) {
                self = .usage(UsageQuery(sinceMs: usage.sinceMs, untilMs: usage.untilMs, by: by))
            } else {
                self = .invalid("usage is summed by owner, tenant or pool, not \"\(usage.by.prefix(64))\"")
            }
        case .snapshot(let snapshot):
            self = .snapshot(PageRequest(cursor: snapshot.cursor, limit: Int(snapshot.limit)))
        case .admin(let admin):
            switch admin.action {
            case .reloadTopology(let path):
                self = .reloadTopology(path: path)
            case .setLink(let set):
                self = .setLink(LinkChange(
                    link: set.link,
                    up: set.state == .up ? true : set.state == .down ? false : nil,
                    capacityGbps: set.capacityGbps != 0 ? set.capacityGbps : nil
                ))
            case nil:
                self = .invalid("the admin request names no action")
            }
        default:
            self = .unexpected(kind: message.kind)
        }
    }
}

extension ControllerError.Code {
    /// Each code beside the protocol's number for it.
    private static let pairs: [(ControllerError.Code, Junction_V1_ErrorCode)] = [
        (.unsupportedVersion, .unsupportedVersion), (.malformed, .malformed), (.unknownMessage, .unknownMessage),
        (.tooLarge, .tooLarge), (.invalidRequest, .invalidRequest), (.notFound, .notFound), (.noPlacement, .noPlacement),
        (.unknownPool, .unknownPool), (.notRegistered, .notRegistered), (.conflict, .conflict),
        (.unauthorized, .unauthorized), (.internal, .internal), (.rateLimited, .rateLimited), (.notLeader, .notLeader),
    ]

    init(_ wire: Junction_V1_ErrorCode) {
        self = Self.pairs.first { $0.1 == wire }?.0 ?? .internal
    }

    var wire: Junction_V1_ErrorCode {
        Self.pairs.first { $0.0 == self }?.1 ?? .internal
    }
}

extension ControllerError {
    public var wire: Junction_V1_ErrorReply {
        var wire = Junction_V1_ErrorReply()
        wire.code = code.wire
        wire.message = message
        return wire
    }
}

extension PoolCommand {
    public var wire: WireBody {
        switch self {
        case .welcome(let welcome):
            var wire = Junction_V1_Welcome()
            wire.poolID = welcome.poolID
            wire.node = welcome.node
            wire.heartbeatIntervalMs = welcome.heartbeatIntervalMs
            wire.livenessMs = welcome.livenessMs
            wire.sessionID = welcome.sessionID
            wire.stopJobs = welcome.stopJobs
            wire.epoch = welcome.epoch
            return .welcome(wire)
        case .heartbeat(let timestampMs):
            var wire = Junction_V1_Heartbeat()
            wire.timestampMs = timestampMs
            return .heartbeat(wire)
        case .dispatch(let dispatch):
            var wire = Junction_V1_Dispatch()
            wire.jobID = dispatch.jobID
            wire.dispatchSequence = dispatch.dispatchSequence
            wire.spec = dispatch.spec.wire
            wire.path = dispatch.path
            wire.leaseID = "lease-\(dispatch.leaseID)"
            wire.leaseExpiresMs = dispatch.leaseExpiresMs
            wire.attempt = dispatch.attempt
            return .dispatch(wire)
        case .cancel(let jobID, let graceS):
            var wire = Junction_V1_CancelJob()
            wire.jobID = jobID
            wire.graceS = graceS
            return .cancelJob(wire)
        case .error(let error):
            return .error(error.wire)
        }
    }
}

extension ClientReply {
    public var wire: WireBody {
        switch self {
        case .placement(let placement):
            return .placement(placement.wire)
        case .submitted(let result):
            var wire = Junction_V1_SubmitReply()
            wire.jobID = result.jobID
            if let placement = result.placement { wire.placement = placement.wire }
            wire.leaseID = result.leaseID.map { "lease-\($0)" } ?? ""
            return .submitted(wire)
        case .jobs(let jobs, let nextCursor):
            var wire = Junction_V1_StatusReply()
            wire.jobs = jobs.map(\.wire)
            wire.nextCursor = nextCursor
            return .jobStatus(wire)
        case .cancelled(let job):
            var wire = Junction_V1_CancelReply()
            if let job { wire.job = job.wire }
            return .cancelled(wire)
        case .routes(let page):
            var wire = Junction_V1_RoutesReply()
            wire.ingress = page.ingress
            wire.version = page.version
            wire.rows = page.rows.map(\.wire)
            wire.nextCursor = page.nextCursor
            return .routeTable(wire)
        case .pools(let pools, let nextCursor):
            var wire = Junction_V1_PoolsReply()
            wire.pools = pools.map(\.wire)
            wire.nextCursor = nextCursor
            return .poolTable(wire)
        case .snapshot(let snapshot):
            var wire = Junction_V1_SnapshotReply()
            wire.sequence = snapshot.sequence
            wire.epoch = snapshot.epoch
            wire.jobs = snapshot.jobs.map(\.wire)
            wire.pools = snapshot.pools.map(\.wire)
            wire.routingVersion = snapshot.routingVersion
            wire.nextCursor = snapshot.nextCursor
            return .snapshotReply(wire)
        case .usage(let summary):
            var wire = Junction_V1_UsageReply()
            wire.rows = summary.rows.map { row in
                var wire = Junction_V1_UsageRow()
                wire.key = row.key
                wire.jobs = UInt32(clamping: row.jobs)
                wire.charge = row.charge.wire
                return wire
            }
            wire.jobs = UInt32(clamping: summary.jobs)
            wire.truncated = summary.truncated
            return .usageReply(wire)
        case .admin(let result):
            var wire = Junction_V1_AdminReply()
            wire.ok = result.ok
            wire.message = result.message
            wire.problems = result.problems
            return .adminReply(wire)
        case .error(let error):
            return .error(error.wire)
        }
    }
}

extension RouteEntry {
    var wire: Junction_V1_RouteRow {
        var wire = Junction_V1_RouteRow()
        wire.pool = row.pool
        wire.node = row.node
        if row.isReachable {
            var path = Junction_V1_PathInfo()
            path.nodes = row.path
            path.latencyMs = row.latencyMs
            path.bottleneckGbps = row.bottleneckGbps.isFinite ? row.bottleneckGbps : 0
            path.cost = row.cost
            wire.path = path
        } else {
            wire.unreachableReason = "no path from the ingress over links that are up"
        }
        wire.hops = UInt32(row.hops)
        if let pool { wire.poolInfo = pool.wire }
        wire.alternatives = zip(row.alternatives, row.alternativeLatencyMs).map { nodes, latency in
            var path = Junction_V1_PathInfo()
            path.nodes = nodes
            path.latencyMs = latency
            return path
        }
        return wire
    }
}

extension ControllerNotice {
    /// The topic it is published under on the events endpoint: `job/<id>`, `pool/<id>` or `route/<ingress>`.
    public var topic: String {
        switch kind {
        case .job(let change): "job/\(change.jobID)"
        case .pool(let pool, _): "pool/\(pool.state.id)"
        case .route(let change): "route/\(change.ingress)"
        }
    }

    public var wire: Junction_V1_Event {
        var wire = Junction_V1_Event()
        wire.sequence = sequence
        wire.epoch = epoch
        wire.timestampMs = timestampMs
        switch kind {
        case .job(let change):
            var event = Junction_V1_JobEvent()
            event.jobID = change.jobID
            event.state = change.state.wire
            event.pool = change.pool
            event.path = change.path
            event.reason = change.reason
            event.attempt = change.attempt
            wire.kind = .job(event)
        case .pool(let pool, let reason):
            var event = Junction_V1_PoolEvent()
            event.pool = pool.wire
            event.reason = reason
            wire.kind = .pool(event)
        case .route(let change):
            var event = Junction_V1_RouteDelta()
            event.ingress = change.ingress
            event.fromVersion = change.fromVersion
            event.toVersion = change.toVersion
            event.upserted = change.upserted.map(\.wire)
            event.removed = change.removed
            event.resync = change.resync
            wire.kind = .route(event)
        }
        return wire
    }
}
