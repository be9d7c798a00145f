import ControllerCore
import Placement
import Testing
import Topology

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

/// Drives a core with a hand-held clock through its typed inputs and keeps what it asked for.
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

    mutating func pool(_ peer: String, _ message: PoolMessage) -> [ControllerAction] {
        send(.fromPool(peer: Array(peer.utf8), correlationID: 1, message))
    }

    /// The reply to a client request, and the correlation id it was sent under.
    mutating func ask(_ request: ClientRequest, id: UInt64 = 9) -> (reply: ClientReply, correlationID: UInt64)? {
        let result = send(.fromClient(ClientAddress(frames: [Array("client".utf8)]), correlationID: id, request))
        for case .reply(_, let correlationID, let reply) in result { return (reply, correlationID) }
        return nil
    }

    mutating func client(_ request: ClientRequest, id: UInt64 = 9) -> ClientReply? {
        ask(request, id: id)?.reply
    }

    mutating func register(_ peer: String, pool: String, node: String, cores: Double = 16, gpus: [String: Int] = [:], running: [String] = []) {
        let registration = PoolRegistration(
            poolID: pool, node: node, total: Resources(cpuCores: cores, memoryBytes: 64 << 30, gpus: gpus),
            runningJobs: running.map { RunningJob(jobID: $0) }
        )
        _ = self.pool(peer, .register(registration))
    }

    mutating func heartbeat(_ peers: String...) {
        for peer in peers { _ = pool(peer, .heartbeat) }
    }

    mutating func submit(cores: Double = 4) -> String? {
        submit(Submission(request: PlacementRequest(ingress: "in", cpuCores: cores), spec: JobSpec(command: "/bin/true")))
    }

    mutating func submit(_ submission: Submission) -> String? {
        guard case .submitted(let result)? = client(.submit(submission)) else { return nil }
        return result.jobID
    }

    mutating func report(_ peer: String, _ job: String, _ state: JobState, attempt: UInt32 = 0, usage: JobUsage? = nil) {
        _ = pool(peer, .jobReport(JobReport(jobID: job, state: state, usage: usage, attempt: attempt)))
    }

    func dispatches(to peer: String, in actions: [ControllerAction]) -> [JobDispatch] {
        actions.compactMap {
            if case .toPool(let to, _, .dispatch(let dispatch)) = $0, to == Array(peer.utf8) { return dispatch }
            return nil
        }
    }

    /// The jobs each cancel in `actions` sent to `peer` names.
    func cancels(to peer: String, in actions: some Sequence<ControllerAction>) -> [String] {
        actions.compactMap {
            if case .toPool(let to, _, .cancel(let job, _)) = $0, to == Array(peer.utf8) { return job }
            return nil
        }
    }

    func welcome(in actions: some Sequence<ControllerAction>) -> PoolWelcome? {
        for case .toPool(_, _, .welcome(let welcome)) in actions { return welcome }
        return nil
    }

    func poolError(in actions: [ControllerAction]) -> ControllerError? {
        for case .toPool(_, _, .error(let error)) in actions { return error }
        return nil
    }

    /// The job as a client would see it, asked of a copy so the harness itself is unchanged.
    func status(_ job: String) -> JobView? {
        var copy = self
        guard case .jobs(let jobs, _)? = copy.client(.status(StatusQuery(jobIDs: [job]))) else { return nil }
        return jobs.first
    }
}

@Suite("Controller core")
struct ControllerCoreTests {
    @Test func registerGetsAWelcomeAndAnUndeclaredPoolNeedsANode() throws {
        var harness = Harness()
        var register = PoolRegistration(poolID: "east-1", node: "east", total: Resources(cpuCores: 8))
        let actions = harness.pool("peer-a", .register(register))
        let welcome = harness.welcome(in: actions)
        #expect(welcome?.node == "east")
        #expect(welcome?.heartbeatIntervalMs == 1_000)
        #expect(harness.core.engine.pool("east-1")?.liveness == .up)

        register.poolID = "nowhere"
        register.node = "mars"
        let refused = harness.pool("peer-b", .register(register))
        let error = try #require(harness.poolError(in: refused), "expected an error reply")
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

        _ = harness.pool("peer-e", .dispatchAnswer(DispatchAnswer(jobID: job, dispatchSequence: 1, accepted: true)))
        harness.report("peer-e", job, .running)
        #expect(harness.status(job)?.state == .running)
        harness.report("peer-e", job, .succeeded, usage: JobUsage(wallSeconds: 3))
        let done = try #require(harness.status(job))
        #expect(done.state == .succeeded)
        #expect(done.usage?.wallSeconds == 3)
        #expect(done.history.map(\.state) == [.accepted, .dispatched, .running, .succeeded])
        #expect(harness.core.engine.activeLeases.isEmpty)

        // Every transition was published, in sequence.
        let events = harness.actions.compactMap { action -> (sequence: UInt64, state: JobState)? in
            if case .publish(let notice) = action, case .job(let change) = notice.kind, change.jobID == job { return (notice.sequence, change.state) }
            return nil
        }
        #expect(events.map(\.state) == [.accepted, .dispatched, .running, .succeeded])
        #expect(events.map(\.sequence) == events.map(\.sequence).sorted())
    }

    @Test func aSilentPoolIsDownAndItsJobGoesElsewhere() throws {
        var harness = Harness()
        harness.register("peer-e", pool: "east-1", node: "east")
        harness.register("peer-w", pool: "west-1", node: "west")
        let submitted = harness.submit()
        let job = try #require(submitted)
        harness.seconds = 3
        harness.heartbeat("peer-w")
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
        let actions = harness.pool("peer-e", .dispatchAnswer(DispatchAnswer(jobID: job, dispatchSequence: 1, accepted: false, reason: "disk full")))
        #expect(harness.dispatches(to: "peer-w", in: actions).first?.jobID == job)
        // West never answers: after the dispatch timeout nothing else is left, so it waits.
        harness.seconds = 1
        harness.heartbeat("peer-e", "peer-w")
        harness.seconds = 6
        harness.heartbeat("peer-e", "peer-w")
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
        harness.report("peer-e", job, .running)
        harness.seconds = 2
        harness.register("peer-e2", pool: "east-1", node: "east", running: [job, "job-unknown"])
        let welcome = harness.welcome(in: harness.actions.reversed())
        #expect(welcome?.stopJobs == ["job-unknown"])
        #expect(harness.status(job)?.state == .running)
        #expect(harness.status(job)?.pool == "east-1")
        // The old connection no longer speaks for the pool.
        let stale = harness.pool("peer-e", .heartbeat)
        let error = try #require(harness.poolError(in: stale), "the old connection should be told it has no session")
        #expect(error.code == .notRegistered)
    }

    @Test func advertisementsAreCheckedAndStaleOnesDropped() throws {
        var harness = Harness()
        harness.register("peer-e", pool: "east-1", node: "east")
        var advertisement = PoolAdvertisement(poolID: "east-1", sequence: 2, free: Resources(cpuCores: 3))
        _ = harness.pool("peer-e", .advertisement(advertisement))
        #expect(harness.core.engine.pool("east-1")?.free.cpuCores == 3)
        advertisement.sequence = 1
        advertisement.free = Resources(cpuCores: 9)
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
        guard case .pools(let pools, _)? = harness.client(.pools(PageRequest())) else {
            Issue.record("no pool table")
            return
        }
        #expect(pools.map(\.state.id) == ["east-1"])
        guard case .routes(let table)? = harness.client(.routes(RoutesQuery(ingress: "in"))) else {
            Issue.record("no route table")
            return
        }
        #expect(table.rows.first?.row.path == ["in", "east"])
        #expect(table.rows.first?.pool?.state.id == "east-1")
        // A job not in memory may have finished long ago: the store answers, after the commit.
        let asked = harness.send(.fromClient(ClientAddress(frames: [Array("client".utf8)]), correlationID: 9, .status(StatusQuery(jobIDs: ["job-404"]))))
        #expect(asked.contains { if case .query(.jobs(["job-404"], nil), _, 9) = $0 { true } else { false } })
        let wrongKind = harness.ask(.unexpected(kind: "heartbeat"), id: 44)
        #expect(wrongKind?.correlationID == 44)
        guard case .error(let unknown)? = wrongKind?.reply else {
            Issue.record("no error for a pool message on the clients endpoint")
            return
        }
        #expect(unknown.code == .unknownMessage)
        let submit = Submission(request: PlacementRequest(ingress: "in", cpuCores: 64), spec: JobSpec(command: "/bin/true"))
        guard case .error(let none)? = harness.client(.submit(submit)) else {
            Issue.record("a job that fits nowhere should get an error")
            return
        }
        #expect(none.code == .noPlacement)
        #expect(none.message.contains("east-1: 16 of 16 cores free after leases, 64 asked"))
    }

    @Test func outOfRangeNumbersAreRefusedWithTheFieldNamed() throws {
        var harness = Harness()
        harness.register("peer-e", pool: "east-1", node: "east")
        var cases: [(PlacementRequest, String)] = [
            (PlacementRequest(ingress: "in", cpuCores: 1, gpuCount: 1 << 31), "gpu_count"),
            (PlacementRequest(ingress: "in", cpuCores: .nan), "cpu_cores"),
            (PlacementRequest(ingress: "in", cpuCores: 1, maxLatencyMs: -1), "max_latency_ms"),
            (PlacementRequest(ingress: "in", cpuCores: 1, runtimeS: .infinity), "runtime_s"),
            (PlacementRequest(ingress: "in", cpuCores: 1, dataBytes: 1e30), "data_bytes"),
        ]
        var share = PlacementRequest(ingress: "in", cpuCores: 1, gpuCount: 1)
        share.gpuShare = -0.5
        cases.append((share, "gpu_share"))
        for (request, field) in cases {
            let submission = Submission(request: request, spec: JobSpec(command: "/bin/true"))
            guard case .error(let refusal)? = harness.client(.submit(submission)) else {
                Issue.record("\(field): expected a refusal")
                continue
            }
            #expect(refusal.code == .invalidRequest)
            #expect(refusal.message.contains(field), "\(refusal.message)")
            guard case .error(let dryRun)? = harness.client(.place(request)) else {
                Issue.record("\(field): expected a refused placement")
                continue
            }
            #expect(dryRun.message.contains(field))
        }
        #expect(harness.submit() != nil, "the controller still serves")

        // What pools report is held to ranges too, and a job id must look like one.
        var priced = PoolRegistration(poolID: "west-1", node: "west", total: Resources(cpuCores: 8))
        priced.price = Price(cpuCoreHour: -1)
        let refusedPrice = harness.pool("peer-w", .register(priced))
        #expect(harness.poolError(in: refusedPrice)?.message.contains("price.cpu_core_hour") == true)
        let nan = harness.pool("peer-e", .advertisement(PoolAdvertisement(poolID: "east-1", sequence: 9, free: Resources(cpuCores: 1), queueWaitS: .nan)))
        #expect(harness.poolError(in: nan)?.message.contains("queue_wait_s") == true)
        guard case .error(let badID)? = harness.client(.cancel(jobID: "../../etc")) else {
            Issue.record("an invalid id is an invalid request")
            return
        }
        #expect(badID.code == .invalidRequest)
        guard case .error(let badStatus)? = harness.client(.status(StatusQuery(jobIDs: ["job-1", "x y"]))) else {
            Issue.record("an invalid id in a status request is an invalid request")
            return
        }
        #expect(badStatus.code == .invalidRequest)

        let submitted = harness.submit(cores: 1)
        let placed = try #require(submitted)
        let before = harness.core.job(placed)
        let invalid = harness.pool("peer-e", .jobReport(JobReport(jobID: placed, state: .accepted, exitCode: 9)))
        #expect(harness.poolError(in: invalid)?.code == .invalidRequest)
        #expect(harness.core.job(placed) == before, "an invalid report changes nothing")
    }

    @Test func anotherProtocolVersionIsAnsweredAndGarbageIsCounted() {
        var harness = Harness()
        let address = ClientAddress(frames: [Array("c".utf8)])
        let version = UndecodableMessage(reason: "unsupported_version", detail: "version 2", answer: ControllerError(.unsupportedVersion, "version 2"), correlationID: 7)
        let answered = harness.send(.undecodable(.clients, address, version))
        let replies = answered.compactMap { action -> (UInt64, ClientReply)? in
            if case .reply(_, let id, let reply) = action { return (id, reply) }
            return nil
        }
        guard let (correlationID, reply) = replies.first, case .error(let error) = reply else {
            Issue.record("expected an error reply")
            return
        }
        #expect(error.code == .unsupportedVersion)
        #expect(correlationID == 7)
        let silent = harness.send(.undecodable(.clients, address, UndecodableMessage(reason: "malformed", detail: "truncated")))
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
        let reply = reloaded.compactMap { action -> AdminResult? in
            if case .reply(_, 5, .admin(let result)) = action { return result }
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

    @Test func aRejectedReloadListsEveryProblemInTheLogAndTheReply() {
        var harness = Harness()
        let problems = ["bad.yaml:3:5: link l1 names node x, which is not declared", "bad.yaml:9:1: pool p1 has no node"]
        let actions = harness.send(.topologyRejected(problems: problems, path: "bad.yaml", replyTo: ClientAddress(frames: [[1]]), correlationID: 8))
        let logged = actions.compactMap { action -> String? in
            if case .log(let entry) = action { return entry.message }
            return nil
        }
        #expect(problems.allSatisfy(logged.contains), "\(logged)")
        let reply = actions.compactMap { action -> AdminResult? in
            if case .reply(_, 8, .admin(let result)) = action { return result }
            return nil
        }.first
        #expect(reply?.ok == false)
        #expect(reply?.problems == problems)
    }

    @Test func aRepeatedIdempotencyKeyNamesTheFirstJobAndEachSubmitterHasItsOwnKeys() throws {
        var configuration = ControllerConfiguration()
        configuration.access = AccessPolicy(pools: ["east-agent": ["east-1"]], clients: ["alice": .submit, "bob": .submit])
        var harness = Harness()
        harness.core = ControllerCore(topology: twoSites(), configuration: configuration)
        let registration = PoolRegistration(poolID: "east-1", node: "east", total: Resources(cpuCores: 8, memoryBytes: 64 << 30))
        _ = harness.send(.fromPool(peer: Array("e".utf8), correlationID: 1, .register(registration), caller: "east-agent"))
        func submit(key: String, as caller: String) -> SubmitResult? {
            let submission = Submission(request: PlacementRequest(ingress: "in", cpuCores: 1), spec: JobSpec(command: "/bin/true"), idempotencyKey: key)
            for case .reply(_, _, .submitted(let result)) in harness.send(.fromClient(ClientAddress(frames: [[2]]), correlationID: 3, .submit(submission), caller: caller)) { return result }
            return nil
        }
        let first = try #require(submit(key: "nightly-7", as: "alice"))
        #expect(first.placement?.winner?.pool == "east-1")
        let again = try #require(submit(key: "nightly-7", as: "alice"))
        #expect(again.jobID == first.jobID && again.placement == nil, "the first job, placed once")
        let other = try #require(submit(key: "nightly-7", as: "bob"))
        #expect(other.jobID != first.jobID && other.placement?.winner != nil, "another submitter's same key is another job")
        #expect(harness.dispatches(to: "e", in: harness.actions).map(\.jobID) == [first.jobID, other.jobID])
    }

    @Test func aJobItsPoolCouldNotStartForThePoolsOwnReasonIsPlacedOnAnother() throws {
        var harness = Harness()
        harness.register("e", pool: "east-1", node: "east")
        harness.register("w", pool: "west-1", node: "west")
        let submitted = harness.submit()
        let job = try #require(submitted)
        #expect(harness.dispatches(to: "e", in: harness.actions).map(\.jobID) == [job], "east is nearer")
        let full = JobReport(jobID: job, state: .failed, exitCode: -1, message: "could not start: cannot start /bin/true: No space left on device", attempt: 1, poolFault: true)
        let moved = harness.pool("e", .jobReport(full))
        #expect(harness.dispatches(to: "w", in: moved).map(\.jobID) == [job])
        let status = try #require(harness.status(job))
        #expect(status.state == .dispatched && status.pool == "west-1", "\(status)")
        #expect(status.history.contains { $0.reason == "on east-1: could not start: cannot start /bin/true: No space left on device; placing again" }, "\(status.history)")
        // West cannot start it either; east is still out of its choice: nowhere left, it waits.
        _ = harness.pool("w", .jobReport(JobReport(jobID: job, state: .failed, exitCode: -1, message: "could not start: out of processes", attempt: 2, poolFault: true)))
        #expect(harness.status(job)?.state == .accepted)
        // The job's own fault fails it, as before.
        let second = harness.submit()
        let other = try #require(second)
        let attempt = try #require(harness.status(other)?.attempts)
        let pool = harness.status(other)?.pool == "east-1" ? "e" : "w"
        _ = harness.pool(pool, .jobReport(JobReport(jobID: other, state: .failed, exitCode: -1, message: "could not start: cannot start nope: no such executable", attempt: attempt)))
        #expect(harness.status(other)?.state == .failed)
    }

    @Test func textFromOutsideIsMadePrintable() throws {
        #expect(printableText("plain → text") == "plain → text")
        #expect(printableText("\u{1B}[1;31mred\u{1B}[0m done") == "red done")
        #expect(printableText("title\u{1B}]0;owned\u{07}after") == "titleafter")
        #expect(printableText("title\u{1B}]2;owned\u{1B}\\after") == "titleafter")
        #expect(printableText("two\nlines\tand\rtab") == "two lines and tab")
        #expect(printableText("bell\u{07} nul\u{0} c1\u{9B}") == "bell\u{FFFD} nul\u{FFFD} c1\u{FFFD}")
        #expect(printableText("cut short \u{1B}[") == "cut short ")

        var harness = Harness()
        harness.register("e", pool: "east-1", node: "east")
        let submitted = harness.submit()
        let job = try #require(submitted)
        _ = harness.pool("e", .jobReport(JobReport(jobID: job, state: .failed, exitCode: 3, message: "its stderr ends \"\u{1B}[31mboom\u{1B}[0m\"", attempt: 1)))
        #expect(harness.status(job)?.message == "failed on east-1 with exit code 3: its stderr ends \"boom\"", "\(harness.status(job)?.message ?? "")")
    }

    @Test func keysAreHeldToTheirPoolsAndRoles() throws {
        var configuration = ControllerConfiguration()
        configuration.access = AccessPolicy(pools: ["east-agent": ["east-1"]], clients: ["alice": .submit, "bob": .submit, "eve": .observer, "ops": .operator], tenants: ["alice": "lab"])
        var harness = Harness()
        harness.core = ControllerCore(topology: twoSites(), configuration: configuration)
        let registration = PoolRegistration(poolID: "east-1", node: "east", total: Resources(cpuCores: 8))
        let stolen = harness.send(.fromPool(peer: [1], correlationID: 1, .register(registration), caller: "alice"))
        #expect(harness.poolError(in: stolen)?.code == .unauthorized)
        let anonymous = harness.send(.fromPool(peer: [1], correlationID: 1, .register(registration)))
        #expect(harness.poolError(in: anonymous)?.code == .unauthorized)
        _ = harness.send(.fromPool(peer: [1], correlationID: 1, .register(registration), caller: "east-agent"))
        #expect(harness.core.engine.pool("east-1")?.liveness == .up)

        func ask(_ request: ClientRequest, as caller: String?) -> ClientReply? {
            for case .reply(_, _, let reply) in harness.send(.fromClient(ClientAddress(frames: [[2]]), correlationID: 3, request, caller: caller)) { return reply }
            return nil
        }
        let submission = Submission(request: PlacementRequest(ingress: "in", cpuCores: 1), spec: JobSpec(command: "/bin/true", owner: "forged"))
        guard case .error(let observer)? = ask(.submit(submission), as: "eve") else {
            Issue.record("an observer may not submit")
            return
        }
        #expect(observer.code == .unauthorized)
        guard case .submitted(let submitted)? = ask(.submit(submission), as: "alice") else {
            Issue.record("a submitter submits")
            return
        }
        #expect(harness.core.job(submitted.jobID)?.spec.owner == "alice", "the key's name, not the request's")
        #expect(harness.core.job(submitted.jobID)?.spec.tenant == "lab", "the key's tenant")
        guard case .error(let other)? = ask(.cancel(jobID: submitted.jobID), as: "bob") else {
            Issue.record("another submitter may not cancel it")
            return
        }
        #expect(other.message.contains("\(submitted.jobID) was submitted by another key"))
        guard case .error(let peek)? = ask(.status(StatusQuery(jobIDs: [submitted.jobID])), as: "bob") else {
            Issue.record("another submitter may not read its status")
            return
        }
        #expect(peek.code == .unauthorized)
        guard case .jobs(let own, _)? = ask(.status(StatusQuery(jobIDs: [submitted.jobID])), as: "alice") else {
            Issue.record("its submitter reads its status")
            return
        }
        #expect(own.map(\.id) == [submitted.jobID])
        let listing = harness.send(.fromClient(ClientAddress(frames: [[2]]), correlationID: 4, .status(StatusQuery()), caller: "bob"))
        #expect(listing.contains { if case .query(.page(_, _, _, owner: "bob"), _, 4) = $0 { true } else { false } }, "a submitter's listing holds only its own jobs")
        let operatorListing = harness.send(.fromClient(ClientAddress(frames: [[2]]), correlationID: 5, .status(StatusQuery()), caller: "ops"))
        #expect(operatorListing.contains { if case .query(.page(_, _, _, owner: nil), _, 5) = $0 { true } else { false } })
        guard case .error(let link)? = ask(.setLink(LinkChange(link: "e", up: false)), as: "alice") else {
            Issue.record("only an operator changes links")
            return
        }
        #expect(link.code == .unauthorized)
        guard case .cancelled? = ask(.cancel(jobID: submitted.jobID), as: "ops") else {
            Issue.record("an operator cancels any job")
            return
        }
        #expect(harness.core.dropped["clients.unauthorized"] == 3)
        #expect(harness.core.dropped["pools.unauthorized"] == 2)
    }

    @Test func aReloadReadsOnlyTheFilesItMay() {
        var configuration = ControllerConfiguration()
        configuration.reloadablePaths = ["/etc/junction/topology.yaml"]
        var harness = Harness()
        harness.core = ControllerCore(topology: twoSites(), configuration: configuration)
        let refused = harness.send(.fromClient(ClientAddress(frames: [[1]]), correlationID: 4, .reloadTopology(path: "/etc/passwd")))
        #expect(!refused.contains { if case .loadTopology = $0 { true } else { false } }, "the file is never read")
        let answer = refused.compactMap { action -> AdminResult? in
            if case .reply(_, 4, .admin(let result)) = action { return result }
            return nil
        }.first
        #expect(answer?.ok == false)
        #expect(answer?.message.contains("/etc/passwd is not a topology file this controller reloads") == true)
        let allowed = harness.send(.fromClient(ClientAddress(frames: [[1]]), correlationID: 5, .reloadTopology(path: "/etc/junction/topology.yaml")))
        #expect(allowed.contains { if case .loadTopology(path: "/etc/junction/topology.yaml", _, 5) = $0 { true } else { false } })
        let own = harness.send(.fromClient(ClientAddress(frames: [[1]]), correlationID: 6, .reloadTopology(path: "")))
        #expect(own.contains { if case .loadTopology(path: "", _, 6) = $0 { true } else { false } }, "its own file, as SIGHUP reads it")
    }

    @Test func aSecondAgentCannotTakeALiveSession() throws {
        var harness = Harness()
        harness.register("peer-a", pool: "east-1", node: "east")
        harness.seconds = 1
        harness.heartbeat("peer-a")
        let second = harness.pool("peer-b", .register(PoolRegistration(poolID: "east-1", node: "east", total: Resources(cpuCores: 8))))
        let conflict = try #require(harness.poolError(in: second))
        #expect(conflict.code == .conflict)
        #expect(conflict.message.contains("is another agent running with this id?"))
        let stillFirst = harness.pool("peer-a", .heartbeat)
        #expect(harness.poolError(in: stillFirst) == nil, "the first agent keeps its session")
        // Once the first has been quiet for two heartbeats (it died), a newcomer gets in.
        harness.seconds = 3.5
        let after = harness.pool("peer-b", .register(PoolRegistration(poolID: "east-1", node: "east", total: Resources(cpuCores: 8))))
        #expect(harness.welcome(in: after) != nil)
        #expect(harness.core.dropped["pools.conflict"] == 1)
    }

    @Test func cancelBeforeAndAfterDispatch() throws {
        var harness = Harness()
        harness.register("peer-e", pool: "east-1", node: "east")
        let submitted = harness.submit()
        let job = try #require(submitted)
        let before = harness.actions.count
        guard case .cancelled(let view)? = harness.client(.cancel(jobID: job)) else {
            Issue.record("a cancel reply")
            return
        }
        #expect(view?.id == job)
        #expect(harness.cancels(to: "peer-e", in: harness.actions[before...]) == [job])
        harness.report("peer-e", job, .cancelled)
        #expect(harness.status(job)?.state == .cancelled)
        #expect(harness.core.engine.activeLeases.isEmpty)
    }

    @Test func theInputBandwidthIsFreedOnceTheJobRuns() throws {
        var harness = Harness()
        harness.register("peer-e", pool: "east-1", node: "east")
        let request = PlacementRequest(ingress: "in", cpuCores: 2, dataBytes: 1_000_000_000, minBandwidthGbps: 4)
        let submitted = harness.submit(Submission(request: request, spec: JobSpec(command: "/bin/true")))
        let job = try #require(submitted)
        #expect(harness.core.engine.activeLeases.first?.bandwidthGbps == 4)
        harness.report("peer-e", job, .running)
        let lease = try #require(harness.core.engine.activeLeases.first)
        #expect(lease.bandwidthGbps == 0, "the input has arrived")
        #expect(harness.core.engine.pool("east-1")?.reserved.cpuCores == 2, "the pool stays held")
    }

    @Test func aJobItsPoolHoldsKeepsItsLeasePastTheTimeLimit() throws {
        var configuration = ControllerConfiguration()
        configuration.leaseTTLS = 100
        var harness = Harness()
        harness.core = ControllerCore(topology: twoSites(), configuration: configuration)
        harness.register("peer-e", pool: "east-1", node: "east")
        let first = harness.submit(cores: 4)
        let second = harness.submit(cores: 4)
        let running = try #require(first)
        // Answered but not yet running, as a job in a batch queue.
        let queued = try #require(second)
        for (sequence, job) in [running, queued].enumerated() {
            _ = harness.pool("peer-e", .dispatchAnswer(DispatchAnswer(jobID: job, dispatchSequence: UInt64(sequence + 1), accepted: true)))
        }
        harness.report("peer-e", running, .running)
        while harness.seconds < 250 {
            harness.seconds += 2
            harness.heartbeat("peer-e")
            _ = harness.send(.tick)
        }
        #expect(harness.core.engine.activeLeases.count == 2)
        #expect(harness.core.engine.pool("east-1")?.reserved.cpuCores == 8, "both jobs' cores stay held")
        #expect(harness.status(running)?.state == .running && harness.status(queued)?.state == .dispatched)
    }

    @Test func aReloadReroutesMovingInputAndPlacesAgainWhatNoPathReaches() throws {
        let network = detourNetwork()
        var harness = Harness(network)
        harness.register("peer-e", pool: "east-1", node: "east")
        harness.register("peer-w", pool: "west-1", node: "west")
        let first = harness.submit(cores: 4)
        let runningJob = try #require(first)
        harness.report("peer-e", runningJob, .running)
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
        #expect(harness.cancels(to: "peer-e", in: actions) == [movingJob], "the east copy is stopped")
        #expect(harness.dispatches(to: "peer-w", in: actions).map(\.jobID) == [movingJob])
        #expect(harness.status(movingJob)?.pool == "west-1")
        #expect(harness.status(runningJob)?.pool == "east-1", "a running job needs no path")
        #expect(harness.core.engine.pool("east-1")?.reserved.cpuCores == 4, "and keeps its resources held")
    }

    @Test func aGPUShareIsDispatchedWithItsGPUAndKeptThroughAReload() throws {
        var harness = Harness()
        harness.register("peer-e", pool: "east-1", node: "east", gpus: ["A100": 1])
        var jobs: [String] = []
        for part in [0.5, 0.25] {
            var request = PlacementRequest(ingress: "in", cpuCores: 1, gpuCount: 1)
            request.gpuShare = part
            let submission = Submission(request: request, spec: JobSpec(command: "/bin/true"))
            let actions = harness.send(.fromClient(ClientAddress(frames: [Array("client".utf8)]), correlationID: 3, .submit(submission)))
            let dispatch = try #require(harness.dispatches(to: "peer-e", in: actions).first)
            #expect(dispatch.spec.resources.gpus.isEmpty)
            #expect(dispatch.spec.gpuShare == LeaseShare(model: "A100", gpu: 0, amount: part))
            jobs.append(dispatch.jobID)
        }
        harness.report("peer-e", jobs[0], .running)
        _ = harness.send(.topologyLoaded(twoSites(), path: "same.yaml", replyTo: nil, correlationID: 0))
        guard case .pools(let views, _)? = harness.client(.pools(PageRequest())) else {
            Issue.record("a pools reply")
            return
        }
        #expect(abs((views.first?.heldGPUShare ?? 0) - 0.75) < 1e-9, "the pool shows the shares its leases hold")
        #expect(views.first?.held.cpuCores == 2)
        let shared = try #require(harness.core.engine.pool("east-1")?.sharedGPUs["A100"])
        #expect(shared.count == 1 && shared[0].index == 0 && abs(shared[0].used - 0.75) < 1e-9, "both shares held again on GPU 0")
        #expect(harness.core.engine.pool("east-1")?.available.gpus["A100"] == 0)
    }
}

@Suite("Per-connection request limits")
struct RateLimitTests {
    func rateLimited(_ actions: [ControllerAction]) -> Bool {
        for case .reply(_, _, .error(let error)) in actions where error.code == .rateLimited { return true }
        return false
    }

    @Test func aConnectionOverItsRateIsToldSoAndOthersAreServed() {
        var configuration = ControllerConfiguration()
        configuration.clientRequestsPerSecond = 10
        configuration.clientRequestBurst = 5
        var harness = Harness()
        harness.core = ControllerCore(topology: twoSites(), configuration: configuration)
        let flooder = ClientAddress(frames: [Array("flooder".utf8)])
        let quiet = ClientAddress(frames: [Array("quiet".utf8)])
        let request = ClientRequest.pools(PageRequest())
        // The burst is taken at once; the next request is over.
        for id in 1...5 { #expect(!rateLimited(harness.send(.fromClient(flooder, correlationID: UInt64(id), request)))) }
        let over = harness.send(.fromClient(flooder, correlationID: 6, request))
        #expect(rateLimited(over))
        #expect(harness.core.dropped["clients.rate_limited"] == 1)
        // Another connection is not held back by the first.
        #expect(!rateLimited(harness.send(.fromClient(quiet, correlationID: 7, request))))
        // A tenth of a second refills one request's worth.
        harness.seconds = 0.1
        #expect(!rateLimited(harness.send(.fromClient(flooder, correlationID: 8, request))))
        #expect(rateLimited(harness.send(.fromClient(flooder, correlationID: 9, request))))
        // Quiet connections are forgotten once their allowance would be full again.
        harness.seconds = 30
        _ = harness.send(.tick)
        #expect(harness.core.clientAllowanceCount == 0)
    }

    @Test func aRateOfZeroTakesEveryRequest() {
        var configuration = ControllerConfiguration()
        configuration.clientRequestsPerSecond = 0
        var harness = Harness()
        harness.core = ControllerCore(topology: twoSites(), configuration: configuration)
        for id in 1...100 { #expect(!rateLimited(harness.send(.fromClient(ClientAddress(frames: [[1]]), correlationID: UInt64(id), .pools(PageRequest()))))) }
        #expect(harness.core.clientAllowanceCount == 0)
    }
}
