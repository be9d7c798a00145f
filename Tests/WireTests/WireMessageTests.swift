import Foundation
import Testing
import Topology
import Wire

/// One populated example of every message the protocol carries.
let samples: [WireBody] = {
    var resources = Junction_V1_Resources()
    resources.cpuCores = 12.5
    resources.memoryBytes = 64 << 30
    resources.gpus = ["H100": 8, "A100": 2]
    var prices = Junction_V1_Prices()
    prices.cpuCoreHour = 0.02
    prices.gpuHour = ["H100": 2.5]
    var usage = Junction_V1_Usage()
    usage.wallSeconds = 10
    usage.coreSeconds = 40
    usage.gpuSeconds = 8
    usage.bytesIn = 1 << 20
    usage.bytesOut = 2 << 20
    var spec = Junction_V1_JobSpec()
    spec.command = "/usr/bin/python3"
    spec.arguments = ["train.py", "--epochs", "3"]
    spec.environment = ["SEED": "7"]
    spec.resources = resources
    spec.name = "train"
    spec.runtimeEstimateS = 3600
    var request = Junction_V1_PlacementRequest()
    request.ingress = "NYCM"
    request.cpuCores = 4
    request.memoryBytes = 8 << 30
    request.gpuCount = 1
    request.gpuModels = ["H100", "A100"]
    request.dataBytes = 50 << 30
    request.minBandwidthGbps = 2
    request.maxLatencyMs = 20
    request.runtimeS = 600
    var label = Junction_V1_LabelConstraint()
    label.key = "region"
    label.operator = .in
    label.values = ["us-east", "us-west"]
    request.labels = [label]
    request.objective = .cost
    request.alternatives = 3
    var estimate = Junction_V1_Estimate()
    estimate.latencyMs = 8.2
    estimate.bottleneckGbps = 10
    estimate.cost = 3
    estimate.transferS = 40
    estimate.queueS = 5
    estimate.runtimeS = 600
    estimate.completionS = 645.0082
    estimate.hops = 2
    estimate.price = 1.25
    var candidate = Junction_V1_Candidate()
    candidate.pool = "chin-gpu"
    candidate.node = "CHIN"
    candidate.path = ["NYCM", "WASH", "CHIN"]
    candidate.estimate = estimate
    var rejection = Junction_V1_Rejection()
    rejection.pool = "kscy-cpu"
    rejection.check = "bandwidth"
    rejection.reason = "link CHIN-IPLS has 2.0 Gbps free, 10 Gbps asked"
    var placement = Junction_V1_PlacementReply()
    placement.placed = true
    placement.winner = candidate
    placement.runnersUp = [candidate]
    placement.rejected = [rejection]
    placement.routingVersion = 42
    var pool = Junction_V1_PoolInfo()
    pool.poolID = "chin-gpu"
    pool.node = "CHIN"
    pool.state = .up
    pool.free = resources
    pool.total = resources
    pool.reserved = resources
    pool.queueWaitS = 3
    pool.processingLatencyMs = 1
    pool.speed = 1.5
    pool.price = prices
    pool.labels = ["tier": "ai"]
    pool.lastAdvertisementMs = 1_790_000_000_000
    pool.advertisementSequence = 9
    pool.runningJobs = 4
    var path = Junction_V1_PathInfo()
    path.nodes = ["NYCM", "CHIN"]
    path.latencyMs = 8.2
    path.bottleneckGbps = 10
    path.cost = 1
    var row = Junction_V1_RouteRow()
    row.pool = "chin-gpu"
    row.node = "CHIN"
    row.path = path
    row.hops = 1
    row.poolInfo = pool
    row.alternatives = [path]
    var job = Junction_V1_JobInfo()
    job.jobID = "job-1"
    job.state = .running
    job.pool = "chin-gpu"
    job.path = ["NYCM", "CHIN"]
    job.estimate = estimate
    job.exitCode = 0
    job.usage = usage
    job.attempts = 2
    job.message = "re-placed after chin-cpu went down"
    job.submittedMs = 1
    job.updatedMs = 2
    job.spec = spec
    var transition = Junction_V1_JobTransition()
    transition.state = .dispatched
    transition.timestampMs = 2
    transition.pool = "chin-gpu"
    transition.reason = "placed"
    job.history = [transition]

    var register = Junction_V1_Register()
    register.poolID = "chin-gpu"
    register.node = "CHIN"
    register.agentVersion = "0.1.0"
    register.total = resources
    register.labels = ["tier": "ai"]
    register.price = prices
    register.speed = 1.5
    var running = Junction_V1_RunningJob()
    running.jobID = "job-1"
    running.state = .running
    running.dispatchSequence = 3
    register.runningJobs = [running]
    register.dispatchSequenceApplied = 3
    var welcome = Junction_V1_Welcome()
    welcome.poolID = "chin-gpu"
    welcome.node = "CHIN"
    welcome.heartbeatIntervalMs = 1_000
    welcome.livenessMs = 5_000
    welcome.sessionID = 77
    welcome.stopJobs = ["job-0"]
    var advertisement = Junction_V1_Advertisement()
    advertisement.poolID = "chin-gpu"
    advertisement.sequence = 12
    advertisement.timestampMs = 1_790_000_000_000
    advertisement.free = resources
    advertisement.total = resources
    advertisement.price = prices
    advertisement.queueWaitS = 3
    advertisement.processingLatencyMs = 0.5
    advertisement.speed = 1.5
    advertisement.labels = ["tier": "ai"]
    advertisement.dispatchSequenceApplied = 3
    advertisement.runningJobs = 1
    var heartbeat = Junction_V1_Heartbeat()
    heartbeat.timestampMs = 5
    var dispatch = Junction_V1_Dispatch()
    dispatch.jobID = "job-1"
    dispatch.dispatchSequence = 4
    dispatch.spec = spec
    dispatch.path = ["NYCM", "CHIN"]
    dispatch.leaseID = "lease-9"
    dispatch.leaseExpiresMs = 1_790_000_060_000
    dispatch.attempt = 1
    var ack = Junction_V1_DispatchAck()
    ack.jobID = "job-1"
    ack.dispatchSequence = 4
    ack.accepted = false
    ack.reason = "no H100 free"
    var update = Junction_V1_JobUpdate()
    update.jobID = "job-1"
    update.state = .succeeded
    update.exitCode = 0
    update.usage = usage
    update.message = "done"
    update.timestampMs = 9
    var cancelJob = Junction_V1_CancelJob()
    cancelJob.jobID = "job-1"
    cancelJob.graceS = 10
    var goodbye = Junction_V1_Goodbye()
    goodbye.reason = "draining"
    var place = Junction_V1_PlaceRequest()
    place.request = request
    var submit = Junction_V1_SubmitRequest()
    submit.request = request
    submit.spec = spec
    submit.idempotencyKey = "k-1"
    var status = Junction_V1_StatusRequest()
    status.jobIds = ["job-1"]
    var cancel = Junction_V1_CancelRequest()
    cancel.jobID = "job-1"
    var routes = Junction_V1_RoutesRequest()
    routes.ingress = "NYCM"
    routes.dataBytes = 1 << 30
    routes.minBandwidthGbps = 1
    routes.alternatives = 2
    var admin = Junction_V1_AdminRequest()
    admin.reloadTopology = "/etc/junction/topology.yaml"
    var submitted = Junction_V1_SubmitReply()
    submitted.jobID = "job-1"
    submitted.placement = placement
    submitted.leaseID = "lease-9"
    var jobStatus = Junction_V1_StatusReply()
    jobStatus.jobs = [job]
    var cancelled = Junction_V1_CancelReply()
    cancelled.job = job
    var routeTable = Junction_V1_RoutesReply()
    routeTable.ingress = "NYCM"
    routeTable.version = 42
    routeTable.rows = [row]
    var poolTable = Junction_V1_PoolsReply()
    poolTable.pools = [pool]
    var snapshotReply = Junction_V1_SnapshotReply()
    snapshotReply.sequence = 100
    snapshotReply.jobs = [job]
    snapshotReply.pools = [pool]
    snapshotReply.routingVersion = 42
    var adminReply = Junction_V1_AdminReply()
    adminReply.ok = false
    adminReply.message = "topology rejected"
    adminReply.problems = ["abilene.yaml:12:5: unknown node CHIX"]
    var error = Junction_V1_ErrorReply()
    error.code = .noPlacement
    error.message = "no pool fits"
    var jobEvent = Junction_V1_JobEvent()
    jobEvent.jobID = "job-1"
    jobEvent.state = .running
    jobEvent.pool = "chin-gpu"
    jobEvent.path = ["NYCM", "CHIN"]
    jobEvent.reason = "started"
    jobEvent.attempt = 1
    var event = Junction_V1_Event()
    event.sequence = 101
    event.timestampMs = 10
    event.job = jobEvent
    var poolEvent = Junction_V1_Event()
    poolEvent.sequence = 102
    var poolChange = Junction_V1_PoolEvent()
    poolChange.pool = pool
    poolChange.reason = "missed liveness"
    poolEvent.pool = poolChange
    var routeEvent = Junction_V1_Event()
    routeEvent.sequence = 103
    var delta = Junction_V1_RouteDelta()
    delta.ingress = "NYCM"
    delta.fromVersion = 41
    delta.toVersion = 42
    delta.upserted = [row]
    delta.removed = ["old-pool"]
    routeEvent.route = delta

    var usageRequest = Junction_V1_UsageRequest()
    usageRequest.sinceMs = 1_790_000_000_000
    usageRequest.untilMs = 1_790_086_400_000
    usageRequest.by = "pool"
    var usageRow = Junction_V1_UsageRow()
    usageRow.key = "chin-gpu"
    usageRow.jobs = 3
    usageRow.charge.coreSeconds = 7_200
    usageRow.charge.gpuSeconds = ["A100": 3_600]
    usageRow.charge.memoryGibSeconds = 28_800
    usageRow.charge.bytesMoved = 1 << 30
    usageRow.charge.cost = 4.5
    var usageReply = Junction_V1_UsageReply()
    usageReply.rows = [usageRow]
    usageReply.jobs = 3

    return [
        .register(register), .welcome(welcome), .advertisement(advertisement), .heartbeat(heartbeat),
        .dispatch(dispatch), .dispatchAck(ack), .jobUpdate(update), .cancelJob(cancelJob),
        .goodbye(goodbye), .place(place), .submit(submit), .status(status), .cancel(cancel),
        .routes(routes), .pools(Junction_V1_PoolsRequest()), .snapshot(Junction_V1_SnapshotRequest()),
        .admin(admin), .placement(placement), .submitted(submitted), .jobStatus(jobStatus),
        .cancelled(cancelled), .routeTable(routeTable), .poolTable(poolTable),
        .snapshotReply(snapshotReply), .adminReply(adminReply), .usage(usageRequest), .usageReply(usageReply), .error(error),
        .event(event), .event(poolEvent), .event(routeEvent),
    ]
}()

/// The names of the envelope's `oneof body` fields, read from the schema itself.
func envelopeBodyFields() throws -> Set<String> {
    let proto = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Protocols/junction/v1/envelope.proto")
    let text = try String(contentsOf: proto, encoding: .utf8)
    let body = try #require(text.range(of: "oneof body {"))
    let fields = text[body.upperBound...].prefix(while: { $0 != "}" })
    return Set(fields.split(separator: "\n").compactMap { line -> String? in
        let words = line.split(separator: " ")
        guard words.count >= 4, words[2] == "=" else { return nil }
        return String(words[1])
    })
}

@Suite("Wire messages")
struct WireMessageTests {
    @Test func samplesCoverEveryMessageInTheSchema() throws {
        let schema = try envelopeBodyFields()
        #expect(schema.count >= 27)
        #expect(Set(samples.map(\.kind)) == schema)
    }

    @Test(arguments: samples.indices)
    func roundTrips(index: Int) throws {
        let message = WireMessage(samples[index], correlationID: UInt64(1_000 + index))
        let bytes = try message.serialized()
        let decoded = try WireMessage(bytes: bytes)
        #expect(decoded == message)
        #expect(decoded.kind == samples[index].kind)
    }

    @Test(arguments: samples.indices)
    func everyTruncationIsAnError(index: Int) throws {
        let bytes = try WireMessage(samples[index], correlationID: 5).serialized()
        for length in 0..<bytes.count {
            #expect(throws: WireError.self, "a \(length)-byte prefix of \(samples[index].kind)") {
                try WireMessage(bytes: Array(bytes.prefix(length)))
            }
        }
    }

    @Test func randomBytesNeverCrash() {
        var generator = SeededGenerator(seed: 20_261_124)
        var errors = 0
        for _ in 0..<20_000 {
            let length = Int.random(in: 0...300, using: &generator)
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            do {
                _ = try WireMessage(bytes: bytes)
            } catch {
                errors += 1
            }
        }
        // A random buffer that happens to be a valid version-1 envelope is possible, not likely.
        #expect(errors > 19_900)
    }

    @Test func mutatedMessagesNeverCrash() throws {
        var generator = SeededGenerator(seed: 7)
        let originals = try samples.map { try WireMessage($0).serialized() }
        for _ in 0..<20_000 {
            var bytes = originals.randomElement(using: &generator)!
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            _ = try? WireMessage(bytes: bytes)
        }
    }

    @Test func emptyIsAnError() {
        #expect(throws: WireError.empty) { try WireMessage(bytes: []) }
    }

    @Test func oversizedInputIsRefusedUnread() {
        let bytes = [UInt8](repeating: 0x0A, count: WireProtocol.maxMessageBytes + 1)
        #expect(throws: WireError.tooLarge(size: bytes.count, limit: WireProtocol.maxMessageBytes)) {
            try WireMessage(bytes: bytes)
        }
    }

    @Test func oversizedOutputIsRefused() {
        var spec = Junction_V1_JobSpec()
        spec.arguments = [String(repeating: "x", count: WireProtocol.maxMessageBytes)]
        var submit = Junction_V1_SubmitRequest()
        submit.spec = spec
        #expect(throws: WireError.self) { try WireMessage(.submit(submit)).serialized() }
    }

    @Test func anotherVersionGetsAnErrorReplyWithTheCorrelationID() throws {
        var envelope = Junction_V1_Envelope()
        envelope.protocolVersion = 2
        envelope.correlationID = 99
        envelope.heartbeat = Junction_V1_Heartbeat()
        let error = try #require(throws: WireError.self) {
            try WireMessage(bytes: try envelope.serializedBytes())
        }
        #expect(error == .unsupportedVersion(2, correlationID: 99))
        let reply = error.reply
        #expect(reply.correlationID == 99)
        guard case .error(let body) = reply.body else {
            Issue.record("the reply is \(reply.kind), not an error")
            return
        }
        #expect(body.code == .unsupportedVersion)
        #expect(body.message.contains("version 2"))
        #expect(try WireMessage(bytes: try reply.serialized()) == reply)
    }

    @Test func aMissingVersionIsUnsupported() throws {
        var envelope = Junction_V1_Envelope()
        envelope.heartbeat = Junction_V1_Heartbeat()
        #expect(throws: WireError.unsupportedVersion(0, correlationID: 0)) {
            try WireMessage(bytes: try envelope.serializedBytes())
        }
    }

    @Test func anUnknownBodyIsAnUnknownMessage() throws {
        // version 1, correlation 5, then field 99 (length-delimited, 3 bytes) from a newer peer.
        let bytes: [UInt8] = [0x08, 0x01, 0x10, 0x05, 0x9A, 0x06, 0x03, 0x61, 0x62, 0x63]
        #expect(throws: WireError.unknownMessage(correlationID: 5)) { try WireMessage(bytes: bytes) }
        let error = WireError.unknownMessage(correlationID: 5)
        #expect(error.code == .unknownMessage)
    }

    @Test func unknownFieldsInsideAKnownMessageAreIgnored() throws {
        var bytes = try WireMessage(.heartbeat(Junction_V1_Heartbeat()), correlationID: 3).serialized()
        // Append an unknown varint field 200 at the envelope level.
        bytes += [0xC0, 0x0C, 0x01]
        let decoded = try WireMessage(bytes: bytes)
        #expect(decoded.kind == "heartbeat")
        #expect(decoded.correlationID == 3)
    }
}

