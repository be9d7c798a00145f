import Wire

extension FuzzTarget {
    /// Inputs that reach deep on their own: real messages of the protocol, and for the controller
    /// whole conversations (a pool registers and advertises, a client submits, the pool runs the
    /// job). File formats are seeded from real files instead (Tests/Fuzz/seed.sh).
    public var generatedSeeds: [[UInt8]] {
        switch self {
        case .envelope: Self.messages.compactMap { try? $0.serialized() }
        case .controller: Self.conversations
        case .topologyYAML, .graphml, .traces: []
        }
    }

    static var messages: [WireMessage] {
        var resources = Junction_V1_Resources()
        resources.cpuCores = 16
        resources.memoryBytes = 64 << 30
        resources.gpus = ["A100": 4]
        var register = Junction_V1_Register()
        register.poolID = "pool-0"
        register.node = "east"
        register.total = resources
        var running = Junction_V1_RunningJob()
        running.jobID = "job-1"
        running.attempt = 1
        register.runningJobs = [running]
        var advertisement = Junction_V1_Advertisement()
        advertisement.poolID = "pool-0"
        advertisement.sequence = 2
        advertisement.free = resources
        advertisement.queueWaitS = 3
        advertisement.speed = 1.5
        var request = Junction_V1_PlacementRequest()
        request.ingress = "in"
        request.cpuCores = 2
        request.gpuCount = 1
        request.gpuModels = ["A100"]
        request.maxLatencyMs = 20
        request.runtimeS = 30
        var spec = Junction_V1_JobSpec()
        spec.command = "/bin/true"
        spec.resources = resources
        var submit = Junction_V1_SubmitRequest()
        submit.request = request
        submit.spec = spec
        submit.idempotencyKey = "k-1"
        var place = Junction_V1_PlaceRequest()
        place.request = request
        var ack = Junction_V1_DispatchAck()
        ack.jobID = "job-1"
        ack.dispatchSequence = 1
        ack.accepted = true
        ack.attempt = 1
        var update = Junction_V1_JobUpdate()
        update.jobID = "job-1"
        update.state = .succeeded
        update.attempt = 1
        var status = Junction_V1_StatusRequest()
        status.jobIds = ["job-1"]
        var cancel = Junction_V1_CancelRequest()
        cancel.jobID = "job-1"
        var routes = Junction_V1_RoutesRequest()
        routes.ingress = "in"
        routes.alternatives = 2
        var setLink = Junction_V1_SetLink()
        setLink.link = "in-east"
        setLink.state = .down
        var admin = Junction_V1_AdminRequest()
        admin.setLink = setLink
        let bodies: [WireBody] = [
            .register(register), .advertisement(advertisement), .heartbeat(Junction_V1_Heartbeat()), .dispatchAck(ack),
            .jobUpdate(update), .goodbye(Junction_V1_Goodbye()), .place(place), .submit(submit), .status(status),
            .cancel(cancel), .routes(routes), .pools(Junction_V1_PoolsRequest()), .snapshot(Junction_V1_SnapshotRequest()),
            .admin(admin),
        ]
        return bodies.enumerated().map { WireMessage($0.element, correlationID: UInt64($0.offset + 1)) }
    }

    /// Records in `ControllerScript`'s layout.
    static var conversations: [[UInt8]] {
        func record(_ kind: UInt8, peer: UInt8 = 0, _ message: WireMessage) -> [UInt8] {
            guard let payload = try? message.serialized() else { return [] }
            return [kind | peer << 2, UInt8(payload.count & 0xff), UInt8(payload.count >> 8)] + payload
        }
        let byKind = Dictionary(grouping: messages, by: \.kind).compactMapValues(\.first)
        func pool(_ kind: String, peer: UInt8 = 0) -> [UInt8] { byKind[kind].map { record(0, peer: peer, $0) } ?? [] }
        func client(_ kind: String, peer: UInt8 = 0) -> [UInt8] { byKind[kind].map { record(1, peer: peer, $0) } ?? [] }
        let tick: [UInt8] = [2 | 4 << 2]
        let linkDown: [UInt8] = [3 | 1 << 4]
        let session = pool("register") + pool("advertisement")
        return [
            session + client("submit") + pool("dispatch_ack") + tick + pool("job_update") + client("status"),
            session + client("place") + client("routes") + client("pools") + client("snapshot"),
            session + client("submit") + linkDown + tick + client("cancel") + pool("goodbye") + tick + tick,
            session + client("submit", peer: 1) + pool("register", peer: 1) + pool("heartbeat") + client("admin") + tick,
        ]
    }
}
