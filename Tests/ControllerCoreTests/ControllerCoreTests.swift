import ControllerCore
import Placement
import Testing
import Topology
import Wire

/// Two sites behind an ingress, no pools declared: agents bring them.
func twoSites() -> Topology {
    let nodes = ["in", "east", "west"].map { Topology.Node(id: $0) }
    let links = [
        Topology.Link(id: "e", from: 0, to: 1, latencyMs: 2, capacityGbps: 10),
        Topology.Link(id: "w", from: 0, to: 2, latencyMs: 9, capacityGbps: 10),
    ]
    return Topology(name: "two-sites", nodes: nodes, links: links, pools: [])
}

/// in → east directly (2 ms) or through mid (6 ms); west is 9 ms away.
func detourNetwork() -> Topology {
    let nodes = ["in", "east", "west", "mid"].map { Topology.Node(id: $0) }
    let links = [
        Topology.Link(id: "in-east", from: 0, to: 1, latencyMs: 2, capacityGbps: 10),
        Topology.Link(id: "in-west", from: 0, to: 2, latencyMs: 9, capacityGbps: 10),
        Topology.Link(id: "in-mid", from: 0, to: 3, latencyMs: 3, capacityGbps: 10),
        Topology.Link(id: "mid-east", from: 3, to: 1, latencyMs: 3, capacityGbps: 10),
    ]
    return Topology(name: "detour", nodes: nodes, links: links, pools: [])
}

/// Drives a core with a hand-held clock and keeps what it asked for.
struct Harness {
    var core: ControllerCore
    var seconds = 0.0
    var actions: [ControllerAction] = []

    init(_ topology: Topology = twoSites()) {
        core = ControllerCore(topology: topology)
    }

    mutating func send(_ event: ControllerEvent) -> [ControllerAction] {
        let result = core.handle(event, now: ControllerTime(seconds: seconds, unixMs: 1_790_000_000_000 + Int64(seconds * 1_000)))
        actions += result
        return result
    }

    mutating func pool(_ peer: String, _ body: WireBody) -> [ControllerAction] {
        send(.fromPool(peer: Array(peer.utf8), WireMessage(body, correlationID: 1)))
    }

    mutating func client(_ body: WireBody, id: UInt64 = 9) -> WireMessage? {
        let result = send(.fromClient(ClientAddress(frames: [Array("client".utf8)]), WireMessage(body, correlationID: id)))
        for case .reply(_, let message) in result { return message }
        return nil
    }

    mutating func register(_ peer: String, pool: String, node: String, cores: Double = 16, running: [String] = []) {
        var register = Junction_V1_Register()
        register.poolID = pool
        register.node = node
        register.total = Resources(cpuCores: cores, memoryBytes: 64 << 30).wire
        register.runningJobs = running.map {
            var job = Junction_V1_RunningJob()
            job.jobID = $0
            job.state = .running
            return job
        }
        _ = self.pool(peer, .register(register))
    }

    mutating func submit(cores: Double = 4) -> String? {
        var submit = Junction_V1_SubmitRequest()
        submit.request.ingress = "in"
        submit.request.cpuCores = cores
        submit.spec.command = "/bin/true"
        guard case .submitted(let reply)? = client(.submit(submit))?.body else { return nil }
        return reply.jobID
    }

    func dispatches(to peer: String, in actions: [ControllerAction]) -> [Junction_V1_Dispatch] {
        actions.compactMap {
            if case .toPool(let to, let message) = $0, to == Array(peer.utf8), case .dispatch(let dispatch) = message.body { return dispatch }
            return nil
        }
    }

    /// The job as a client would see it, asked of a copy so the harness itself is unchanged.
    func status(_ job: String) -> Junction_V1_JobInfo? {
        var copy = self
        var request = Junction_V1_StatusRequest()
        request.jobIds = [job]
        guard case .jobStatus(let reply)? = copy.client(.status(request))?.body else { return nil }
        return reply.jobs.first
    }
}

@Suite("Controller core")
struct ControllerCoreTests {
    @Test func registerGetsAWelcomeAndAnUndeclaredPoolNeedsANode() throws {
        var harness = Harness()
        var register = Junction_V1_Register()
        register.poolID = "east-1"
        register.node = "east"
        register.total = Resources(cpuCores: 8).wire
        let actions = harness.pool("peer-a", .register(register))
        let welcome = actions.compactMap { action -> Junction_V1_Welcome? in
            if case .toPool(_, let message) = action, case .welcome(let welcome) = message.body { return welcome }
            return nil
        }.first
        #expect(welcome?.node == "east")
        #expect(welcome?.heartbeatIntervalMs == 1_000)
        #expect(harness.core.engine.pool("east-1")?.liveness == .up)

        register.poolID = "nowhere"
        register.node = "mars"
        let refused = harness.pool("peer-b", .register(register))
        guard case .toPool(_, let message)? = refused.first, case .error(let error) = message.body else {
            Issue.record("expected an error reply")
            return
        }
        #expect(error.code == .unknownPool)
        #expect(error.message.contains("node mars is not in the topology"))
    }

    @Test func aSubmittedJobIsPlacedDispatchedRunAndFinished() throws {
        var harness = Harness()
        harness.register("peer-e", pool: "east-1", node: "east")
        harness.register("peer-w", pool: "west-1", node: "west")
        let before = harness.actions.count
        let submitted = harness.submit()
        let job = try #require(submitted)
        let dispatch = try #require(harness.dispatches(to: "peer-e", in: Array(harness.actions[before...])).first, "the nearer pool gets it")
        #expect(dispatch.jobID == job)
        #expect(dispatch.path == ["in", "east"])
        #expect(dispatch.dispatchSequence == 1)
        #expect(harness.status(job)?.state == .dispatched)
        #expect(harness.core.engine.pool("east-1")?.reserved.cpuCores == 4)

        var ack = Junction_V1_DispatchAck()
        ack.jobID = job
        ack.dispatchSequence = 1
        ack.accepted = true
        _ = harness.pool("peer-e", .dispatchAck(ack))
        var update = Junction_V1_JobUpdate()
        update.jobID = job
        update.state = .running
        _ = harness.pool("peer-e", .jobUpdate(update))
        #expect(harness.status(job)?.state == .running)
        update.state = .succeeded
        update.usage.wallSeconds = 3
        _ = harness.pool("peer-e", .jobUpdate(update))
        let done = try #require(harness.status(job))
        #expect(done.state == .succeeded)
        #expect(done.usage.wallSeconds == 3)
        #expect(done.history.map(\.state) == [.accepted, .dispatched, .running, .succeeded])
        #expect(harness.core.engine.activeLeases.isEmpty)

        // Every transition was published, in sequence.
        let events = harness.actions.compactMap { action -> Junction_V1_Event? in
            if case .publish(let topic, let event) = action, topic == "job/\(job)" { return event }
            return nil
        }
        #expect(events.map(\.job.state) == [.accepted, .dispatched, .running, .succeeded])
        #expect(events.map(\.sequence) == events.map(\.sequence).sorted())
    }

    @Test func aSilentPoolIsDownAndItsJobGoesElsewhere() throws {
        var harness = Harness()
        harness.register("peer-e", pool: "east-1", node: "east")
        harness.register("peer-w", pool: "west-1", node: "west")
        let submitted = harness.submit()
        let job = try #require(submitted)
        harness.seconds = 3
        _ = harness.pool("peer-w", .heartbeat(Junction_V1_Heartbeat()))
        harness.seconds = 5.5
        let actions = harness.send(.tick)
        #expect(harness.core.engine.pool("east-1")?.liveness == .down)
        let moved = try #require(harness.dispatches(to: "peer-w", in: actions).first)
        #expect(moved.jobID == job)
        #expect(moved.attempt == 2)
        #expect(harness.status(job)?.pool == "west-1")
        #expect(harness.core.engine.pool("east-1")?.reserved.cpuCores == 0)
    }

    @Test func aRefusalOrASilentDispatchPlacesAgainAndGivesUpAtTheLimit() throws {
        var harness = Harness()
        harness.register("peer-e", pool: "east-1", node: "east")
        harness.register("peer-w", pool: "west-1", node: "west")
        let submitted = harness.submit()
        let job = try #require(submitted)
        var ack = Junction_V1_DispatchAck()
        ack.jobID = job
        ack.dispatchSequence = 1
        ack.accepted = false
        ack.reason = "disk full"
        let actions = harness.pool("peer-e", .dispatchAck(ack))
        #expect(harness.dispatches(to: "peer-w", in: actions).first?.jobID == job)
        // West never answers: after the dispatch timeout nothing else is left, so it waits.
        harness.seconds = 1
        _ = harness.pool("peer-e", .heartbeat(Junction_V1_Heartbeat()))
        _ = harness.pool("peer-w", .heartbeat(Junction_V1_Heartbeat()))
        harness.seconds = 6
        _ = harness.pool("peer-e", .heartbeat(Junction_V1_Heartbeat()))
        _ = harness.pool("peer-w", .heartbeat(Junction_V1_Heartbeat()))
        _ = harness.send(.tick)
        let info = try #require(harness.status(job))
        #expect(info.state == .accepted)
        #expect(info.message.contains("waiting"))
        #expect(info.message.contains("excluded"))
    }

    @Test func aPoolThatReconnectsKeepsItsRunningJob() throws {
        var harness = Harness()
        harness.register("peer-e", pool: "east-1", node: "east")
        let submitted = harness.submit()
        let job = try #require(submitted)
        var update = Junction_V1_JobUpdate()
        update.jobID = job
        update.state = .running
        _ = harness.pool("peer-e", .jobUpdate(update))
        harness.seconds = 2
        harness.register("peer-e2", pool: "east-1", node: "east", running: [job, "job-unknown"])
        let welcome = harness.actions.reversed().compactMap { action -> Junction_V1_Welcome? in
            if case .toPool(_, let message) = action, case .welcome(let welcome) = message.body { return welcome }
            return nil
        }.first
        #expect(welcome?.stopJobs == ["job-unknown"])
        #expect(harness.status(job)?.state == .running)
        #expect(harness.status(job)?.pool == "east-1")
        // The old connection no longer speaks for the pool.
        let stale = harness.pool("peer-e", .heartbeat(Junction_V1_Heartbeat()))
        guard case .toPool(_, let message)? = stale.first, case .error(let error) = message.body else {
            Issue.record("the old connection should be told it has no session")
            return
        }
        #expect(error.code == .notRegistered)
    }

    @Test func advertisementsAreCheckedAndStaleOnesDropped() throws {
        var harness = Harness()
        harness.register("peer-e", pool: "east-1", node: "east")
        var advertisement = Junction_V1_Advertisement()
        advertisement.poolID = "east-1"
        advertisement.sequence = 2
        advertisement.free = Resources(cpuCores: 3).wire
        _ = harness.pool("peer-e", .advertisement(advertisement))
        #expect(harness.core.engine.pool("east-1")?.free.cpuCores == 3)
        advertisement.sequence = 1
        advertisement.free = Resources(cpuCores: 9).wire
        _ = harness.pool("peer-e", .advertisement(advertisement))
        #expect(harness.core.engine.pool("east-1")?.free.cpuCores == 3)
        #expect(harness.core.dropped["pools.stale_advertisement"] == 1)
        advertisement.sequence = 3
        advertisement.free.cpuCores = -5
        _ = harness.pool("peer-e", .advertisement(advertisement))
        #expect(harness.core.dropped["pools.invalid_advertisement"] == 1)
        advertisement.free.cpuCores = 1
        advertisement.poolID = "west-9"
        _ = harness.pool("peer-e", .advertisement(advertisement))
        #expect(harness.core.dropped["pools.foreign_advertisement"] == 1)
        #expect(harness.core.engine.pool("east-1")?.free.cpuCores == 3)
    }

    @Test func clientsGetAnAnswerToEverything() throws {
        var harness = Harness()
        harness.register("peer-e", pool: "east-1", node: "east")
        #expect(harness.client(.pools(Junction_V1_PoolsRequest()))?.kind == "pool_table")
        var routes = Junction_V1_RoutesRequest()
        routes.ingress = "in"
        guard case .routeTable(let table)? = harness.client(.routes(routes))?.body else {
            Issue.record("no route table")
            return
        }
        #expect(table.rows.first?.path.nodes == ["in", "east"])
        var status = Junction_V1_StatusRequest()
        status.jobIds = ["job-404"]
        // A job not in memory may have finished long ago: the store answers, after the commit.
        let asked = harness.send(.fromClient(ClientAddress(frames: [Array("client".utf8)]), WireMessage(.status(status), correlationID: 9)))
        #expect(asked.contains { if case .query(.jobs(["job-404"]), _, 9) = $0 { true } else { false } })
        let wrongKind = harness.client(.heartbeat(Junction_V1_Heartbeat()), id: 44)
        #expect(wrongKind?.correlationID == 44)
        guard case .error(let unknown)? = wrongKind?.body else {
            Issue.record("no error for a pool message on the clients endpoint")
            return
        }
        #expect(unknown.code == .unknownMessage)
        var submit = Junction_V1_SubmitRequest()
        submit.request.ingress = "in"
        submit.request.cpuCores = 64
        submit.spec.command = "/bin/true"
        guard case .error(let none)? = harness.client(.submit(submit))?.body else {
            Issue.record("a job that fits nowhere should get an error")
            return
        }
        #expect(none.code == .noPlacement)
        #expect(none.message.contains("east-1: 16 of 16 cores free after leases, 64 asked"))
    }

    @Test func anotherProtocolVersionIsAnsweredAndGarbageIsCounted() {
        var harness = Harness()
        let address = ClientAddress(frames: [Array("c".utf8)])
        let answered = harness.send(.undecodable(.clients, address, .unsupportedVersion(2, correlationID: 7)))
        let replies = answered.compactMap { action -> WireMessage? in
            if case .reply(_, let message) = action { return message }
            return nil
        }
        guard let message = replies.first, case .error(let error) = message.body else {
            Issue.record("expected an error reply")
            return
        }
        #expect(error.code == .unsupportedVersion)
        #expect(message.correlationID == 7)
        let silent = harness.send(.undecodable(.clients, address, .malformed(detail: "truncated")))
        #expect(!silent.contains { if case .reply = $0 { true } else { false } })
        #expect(harness.core.dropped["clients.malformed"] == 1)
        #expect(harness.core.dropped["clients.unsupported_version"] == 1)
    }

    @Test func aReloadKeepsSessionsAndJobsAndDropsPoolsWhoseNodeIsGone() throws {
        var harness = Harness()
        harness.register("peer-e", pool: "east-1", node: "east")
        harness.register("peer-w", pool: "west-1", node: "west")
        let submitted = harness.submit()
        let job = try #require(submitted)
        #expect(harness.status(job)?.pool == "east-1")

        // The same network with a faster west link: nothing running is disturbed.
        var faster = twoSites()
        faster.links[1].latencyMs = 1
        let reloaded = harness.send(.topologyLoaded(faster, path: "faster.yaml", replyTo: ClientAddress(frames: [Array("admin".utf8)]), correlationID: 5))
        let reply = reloaded.compactMap { action -> Junction_V1_AdminReply? in
            if case .reply(_, let message) = action, case .adminReply(let reply) = message.body { return reply }
            return nil
        }.first
        #expect(reply?.ok == true)
        #expect(harness.status(job)?.state == .dispatched)
        #expect(harness.core.engine.pool("east-1")?.liveness == .up)
        #expect(harness.core.engine.pool("east-1")?.reserved.cpuCores == 4, "the job's lease is held again")
        #expect(harness.core.engine.activeLeases.count == 1)

        // A network without the east site: its pool is lost and the job moves west.
        let westOnly = Topology(name: "west-only", nodes: ["in", "west"].map { Topology.Node(id: $0) }, links: [Topology.Link(id: "w", from: 0, to: 1, latencyMs: 9, capacityGbps: 10)], pools: [])
        let moved = harness.send(.topologyLoaded(westOnly, path: "west.yaml", replyTo: nil, correlationID: 0))
        #expect(harness.dispatches(to: "peer-w", in: moved).first?.jobID == job)
        #expect(harness.status(job)?.pool == "west-1")
        #expect(harness.core.engine.pool("east-1") == nil)
    }

    @Test func cancelBeforeAndAfterDispatch() throws {
        var harness = Harness()
        harness.register("peer-e", pool: "east-1", node: "east")
        let submitted = harness.submit()
        let job = try #require(submitted)
        var cancel = Junction_V1_CancelRequest()
        cancel.jobID = job
        let before = harness.actions.count
        _ = harness.client(.cancel(cancel))
        let asked = harness.actions[before...].contains {
            if case .toPool(_, let message) = $0, case .cancelJob(let request) = message.body { return request.jobID == job }
            return false
        }
        #expect(asked)
        var update = Junction_V1_JobUpdate()
        update.jobID = job
        update.state = .cancelled
        _ = harness.pool("peer-e", .jobUpdate(update))
        #expect(harness.status(job)?.state == .cancelled)
        #expect(harness.core.engine.activeLeases.isEmpty)
    }

    @Test func theInputBandwidthIsFreedOnceTheJobRuns() throws {
        var harness = Harness()
        harness.register("peer-e", pool: "east-1", node: "east")
        var submit = Junction_V1_SubmitRequest()
        submit.request.ingress = "in"
        submit.request.cpuCores = 2
        submit.request.dataBytes = 1_000_000_000
        submit.request.minBandwidthGbps = 4
        submit.spec.command = "/bin/true"
        guard case .submitted(let reply)? = harness.client(.submit(submit))?.body else {
            Issue.record("not submitted")
            return
        }
        #expect(harness.core.engine.activeLeases.first?.bandwidthGbps == 4)
        var update = Junction_V1_JobUpdate()
        update.jobID = reply.jobID
        update.state = .running
        _ = harness.pool("peer-e", .jobUpdate(update))
        let lease = try #require(harness.core.engine.activeLeases.first)
        #expect(lease.bandwidthGbps == 0, "the input has arrived")
        #expect(harness.core.engine.pool("east-1")?.reserved.cpuCores == 2, "the pool stays held")
    }

    @Test func aReloadReroutesMovingInputAndPlacesAgainWhatNoPathReaches() throws {
        let network = detourNetwork()
        var harness = Harness(network)
        harness.register("peer-e", pool: "east-1", node: "east")
        harness.register("peer-w", pool: "west-1", node: "west")
        let first = harness.submit(cores: 4)
        let runningJob = try #require(first)
        var update = Junction_V1_JobUpdate()
        update.jobID = runningJob
        update.state = .running
        _ = harness.pool("peer-e", .jobUpdate(update))
        let second = harness.submit(cores: 4)
        let movingJob = try #require(second)
        #expect(harness.status(movingJob)?.path == ["in", "east"])

        var detour = network
        detour.links[0].isUp = false
        _ = harness.send(.topologyLoaded(detour, path: "in-east down", replyTo: nil, correlationID: 0))
        #expect(harness.status(movingJob)?.pool == "east-1")
        #expect(harness.status(movingJob)?.path == ["in", "mid", "east"], "the input takes the detour")

        var cut = detour
        cut.links[2].isUp = false
        let actions = harness.send(.topologyLoaded(cut, path: "in-mid down", replyTo: nil, correlationID: 0))
        let cancelled = actions.contains {
            if case .toPool(let peer, let message) = $0, peer == Array("peer-e".utf8), case .cancelJob(let cancel) = message.body { return cancel.jobID == movingJob }
            return false
        }
        #expect(cancelled, "the east copy is stopped")
        #expect(harness.dispatches(to: "peer-w", in: actions).map(\.jobID) == [movingJob])
        #expect(harness.status(movingJob)?.pool == "west-1")
        #expect(harness.status(runningJob)?.pool == "east-1", "a running job needs no path")
        #expect(harness.core.engine.pool("east-1")?.reserved.cpuCores == 4, "and keeps its resources held")
    }

    @Test func aGPUShareIsDispatchedWithItsGPUAndKeptThroughAReload() throws {
        var harness = Harness()
        var register = Junction_V1_Register()
        register.poolID = "east-1"
        register.node = "east"
        register.total = Resources(cpuCores: 16, memoryBytes: 64 << 30, gpus: ["A100": 1]).wire
        _ = harness.pool("peer-e", .register(register))
        var jobs: [String] = []
        for part in [0.5, 0.25] {
            var submit = Junction_V1_SubmitRequest()
            submit.request.ingress = "in"
            submit.request.cpuCores = 1
            submit.request.gpuCount = 1
            submit.request.gpuShare = part
            submit.spec.command = "/bin/true"
            let actions = harness.send(.fromClient(ClientAddress(frames: [Array("client".utf8)]), WireMessage(.submit(submit), correlationID: 3)))
            let dispatch = try #require(harness.dispatches(to: "peer-e", in: actions).first)
            #expect(dispatch.spec.resources.gpus.isEmpty)
            #expect(dispatch.spec.gpuShare.model == "A100" && dispatch.spec.gpuShare.gpu == 0 && dispatch.spec.gpuShare.share == part)
            jobs.append(dispatch.jobID)
        }
        var update = Junction_V1_JobUpdate()
        update.jobID = jobs[0]
        update.state = .running
        _ = harness.pool("peer-e", .jobUpdate(update))
        _ = harness.send(.topologyLoaded(twoSites(), path: "same.yaml", replyTo: nil, correlationID: 0))
        let shared = try #require(harness.core.engine.pool("east-1")?.sharedGPUs["A100"])
        #expect(shared.count == 1 && shared[0].index == 0 && abs(shared[0].used - 0.75) < 1e-9, "both shares held again on GPU 0")
        #expect(harness.core.engine.pool("east-1")?.available.gpus["A100"] == 0)
    }
}
