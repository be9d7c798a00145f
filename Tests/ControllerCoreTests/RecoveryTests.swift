import ControllerCore
import Placement
import Testing
import Topology

extension Harness {
    /// What the store would hold after everything this harness has done: the last record of each job.
    var stored: RecoveredState {
        var records: [String: StoredJob] = [:]
        for case .persist(let record) in actions { records[record.job.id] = record }
        var counters = core.counters
        counters.epoch += 1
        return RecoveredState(counters: counters, jobs: records.values.filter { !$0.isFinished }.sorted { $0.number < $1.number })
    }

    /// A new controller on the same store, `later` seconds on.
    func restarted(after later: Double = 1) -> Harness {
        var next = Harness()
        next.seconds = seconds + later
        next.actions = next.core.restore(stored, now: ControllerTime(seconds: next.seconds, unixMs: 1_790_000_000_000 + Int64(next.seconds * 1_000)))
        return next
    }

    mutating func update(_ peer: String, _ job: String, _ state: JobState, attempt: UInt32) {
        report(peer, job, state, attempt: attempt)
    }
}

@Suite("Controller recovery and attempts")
struct RecoveryTests {
    @Test func aRestartKeepsRunningJobsWhereTheyRunAndNeverReusesAnID() throws {
        var first = Harness()
        first.register("peer-e", pool: "east-1", node: "east")
        let jobSubmitted = first.submit()
        let job = try #require(jobSubmitted)
        first.update("peer-e", job, .running, attempt: 1)
        #expect(first.core.job(job)?.state == .running)

        var second = first.restarted()
        #expect(second.core.epoch == first.core.epoch + 1)
        #expect(second.core.job(job)?.state == .running, "the store's word stands until the pool speaks")
        let before = second.actions.count
        second.register("peer-e2", pool: "east-1", node: "east", running: [job])
        let welcome = try #require(second.welcome(in: Array(second.actions[before...])))
        #expect(welcome.stopJobs.isEmpty, "a restart never stops a job the store says the pool holds")
        #expect(welcome.epoch == second.core.epoch)
        second.seconds += 3
        _ = second.send(.tick)
        #expect(second.core.job(job)?.state == .running)
        #expect(second.core.job(job)?.pool == "east-1")
        #expect(second.core.engine.pool("east-1")?.reserved.cpuCores == 4, "its resources are held again")
        let nextSubmitted = second.submit()
        let next = try #require(nextSubmitted)
        #expect(next == "job-2")
        second.update("peer-e2", job, .succeeded, attempt: 1)
        #expect(second.core.job(job)?.state == .succeeded)
        #expect(second.core.engine.pool("east-1")?.reserved.cpuCores == 4, "only the new job holds the pool")
    }

    @Test func aSubmitBeforeThePoolsComeBackWaitsForThemOnlyRightAfterATakeover() throws {
        var first = Harness()
        first.register("peer-e", pool: "east-1", node: "east")
        #expect(first.submit() != nil)
        var second = first.restarted()
        // No pool has registered with the new controller yet: the submit waits instead of failing.
        let accepted = second.submit()
        let waiting = try #require(accepted, "accepted while the pools rejoin")
        #expect(second.core.job(waiting)?.state == .accepted)
        second.register("peer-e2", pool: "east-1", node: "east")
        second.seconds += 1
        _ = second.send(.tick)
        #expect(second.core.job(waiting)?.pool == "east-1", "placed once its pool is back")
        // Once the rejoin window (liveness and grace) has passed, a submit that fits nowhere is refused again.
        second.seconds += 30
        second.heartbeat("peer-e2")
        guard case .error(let refusal)? = second.client(.submit(Submission(request: PlacementRequest(ingress: "in", cpuCores: 64), spec: JobSpec(command: "true")))) else {
            Issue.record("a job larger than every pool is refused after the window")
            return
        }
        #expect(refusal.code == .noPlacement)
        // A first start on an empty store has no pools to wait for.
        var fresh = Harness()
        _ = fresh.core.restore(RecoveredState(counters: DurableCounters(epoch: 1), jobs: []), now: ControllerTime(seconds: 0, unixMs: 0))
        let refused = fresh.submit()
        #expect(refused == nil, "refused at once")
    }

    @Test func countersAreStoredABlockAheadAndARestartHandsOutNoneTwice() throws {
        var first = Harness()
        first.register("peer-e", pool: "east-1", node: "east", cores: 1_000)
        // What a store holds after each batch's commit: the counters only when some are given.
        var stored = DurableCounters(epoch: 1)
        var rows: [String: StoredJob] = [:]
        var counterWrites = 0
        func commitBatch(_ harness: inout Harness) {
            for case .persist(let record) in harness.actions { rows[record.job.id] = record }
            harness.actions = []
            guard let counters = harness.core.takeCounterChanges() else { return }
            counterWrites += 1
            stored.eventSequence = counters.eventSequence
            stored.dispatchSequences.merge(counters.dispatchSequences) { max($0, $1) }
        }
        var lastDispatch: UInt64 = 0
        for _ in 0..<200 {
            let submitted = first.submit(cores: 1)
            let job = try #require(submitted)
            lastDispatch = try #require(first.dispatches(to: "peer-e", in: first.actions).last).dispatchSequence
            commitBatch(&first)
            first.report("peer-e", job, .succeeded, attempt: 1)
            commitBatch(&first)
        }
        #expect(counterWrites == 1, "200 jobs and their events fit in the first block")
        let lastEvent = first.core.eventSequence
        #expect(stored.eventSequence >= lastEvent && stored.dispatchSequences["east-1"] ?? 0 >= lastDispatch)

        // The store recovers the next job number from its highest row.
        stored.nextJobNumber = (rows.values.map(\.number).max() ?? 0) + 1
        stored.epoch += 1
        var second = Harness()
        second.seconds = first.seconds + 1
        second.actions = second.core.restore(RecoveredState(counters: stored, jobs: []), now: ControllerTime(seconds: second.seconds, unixMs: 1_790_000_100_000))
        second.register("peer-e2", pool: "east-1", node: "east", cores: 1_000)
        let next = second.submit(cores: 1)
        #expect(next == "job-201", "job ids go on from the last one")
        let dispatch = try #require(second.dispatches(to: "peer-e2", in: second.actions).last)
        #expect(dispatch.dispatchSequence > lastDispatch)
        let events = second.actions.compactMap { action -> UInt64? in
            if case .publish(let notice) = action { return notice.sequence }
            return nil
        }
        #expect(!events.isEmpty && events.allSatisfy { $0 > lastEvent }, "no event sequence is used twice")
    }

    @Test func aJobItsPoolDoesNotReportAfterARestartIsPlacedAgain() throws {
        var first = Harness()
        first.register("peer-e", pool: "east-1", node: "east")
        first.register("peer-w", pool: "west-1", node: "west")
        let jobSubmitted = first.submit()
        let job = try #require(jobSubmitted)
        first.update("peer-e", job, .running, attempt: 1)

        var second = first.restarted()
        second.register("peer-e2", pool: "east-1", node: "east")
        second.register("peer-w2", pool: "west-1", node: "west")
        second.heartbeat("peer-e2", "peer-w2")
        second.seconds += 4
        _ = second.send(.tick)
        #expect(second.core.job(job)?.pool == "east-1", "outcomes may still be on their way")
        second.heartbeat("peer-e2", "peer-w2")
        second.seconds += 3
        _ = second.send(.tick)
        let moved = try #require(second.core.job(job))
        #expect(moved.pool == "west-1")
        #expect(moved.attempts == 2)
        #expect(moved.history.contains { $0.reason.contains("did not report it") })
    }

    @Test func anOutcomeOfAnOlderAttemptIsRecordedButNotCounted() throws {
        var harness = Harness()
        harness.register("peer-e", pool: "east-1", node: "east")
        harness.register("peer-w", pool: "west-1", node: "west")
        let jobSubmitted = harness.submit()
        let job = try #require(jobSubmitted)
        harness.update("peer-e", job, .running, attempt: 1)
        // The east pool goes silent past its liveness window; the job moves west as attempt 2.
        harness.seconds += 3
        harness.register("peer-w", pool: "west-1", node: "west")
        harness.seconds += 3
        _ = harness.send(.tick)
        #expect(harness.core.job(job)?.pool == "west-1")
        #expect(harness.core.job(job)?.attempts == 2)
        // The east pool comes back and reports its old run.
        harness.register("peer-e3", pool: "east-1", node: "east")
        let before = harness.actions.count
        harness.update("peer-e3", job, .succeeded, attempt: 1)
        #expect(harness.core.job(job)?.state == .dispatched, "attempt 1's outcome does not count")
        #expect(harness.core.job(job)?.history.last?.reason.contains("not counted") == true)
        #expect(harness.actions[before...].contains { if case .persist = $0 { true } else { false } }, "the history is stored")
        harness.update("peer-w", job, .running, attempt: 2)
        harness.update("peer-w", job, .succeeded, attempt: 2)
        #expect(harness.core.job(job)?.state == .succeeded)
    }

    @Test func anAtMostOnceJobOnALostPoolFailsInsteadOfRunningAgain() throws {
        var harness = Harness()
        harness.register("peer-e", pool: "east-1", node: "east")
        harness.register("peer-w", pool: "west-1", node: "west")
        let submitted = harness.submit(Submission(request: PlacementRequest(ingress: "in", cpuCores: 1), spec: JobSpec(command: "/bin/true", delivery: .atMostOnce)))
        let job = try #require(submitted)
        _ = harness.pool("peer-e", .goodbye(reason: "test"))
        let info = try #require(harness.core.job(job))
        #expect(info.state == .failed)
        #expect(info.message.contains("at-most-once"))
    }

    @Test func aWaitingJobFailsAtItsDeadlineAndAnExclusionEnds() throws {
        var harness = Harness()
        harness.register("peer-e", pool: "east-1", node: "east")
        let submitted = harness.submit(Submission(request: PlacementRequest(ingress: "in", cpuCores: 1), spec: JobSpec(command: "/bin/true"), placementDeadlineS: 400))
        let job = try #require(submitted)
        // The only pool refuses: the job waits, with that pool excluded for a while.
        let refusal = DispatchAnswer(jobID: job, dispatchSequence: 1, accepted: false, reason: "busy", attempt: 1)
        _ = harness.pool("peer-e", .dispatchAnswer(refusal))
        #expect(harness.core.job(job)?.state == .accepted)
        harness.seconds += 100
        harness.heartbeat("peer-e")
        _ = harness.send(.tick)
        #expect(harness.core.job(job)?.state == .accepted, "still excluded")
        harness.seconds += 250
        harness.register("peer-e", pool: "east-1", node: "east")
        _ = harness.send(.tick)
        #expect(harness.core.job(job)?.state == .dispatched, "the exclusion ended after 300 s")
        #expect(harness.core.job(job)?.attempts == 2)

        _ = harness.pool("peer-e", .dispatchAnswer(DispatchAnswer(jobID: job, dispatchSequence: 2, accepted: false, reason: "busy", attempt: 2)))
        harness.seconds += 100
        harness.register("peer-e", pool: "east-1", node: "east")
        _ = harness.send(.tick)
        let failed = try #require(harness.core.job(job))
        #expect(failed.state == .failed)
        #expect(failed.message.contains("deadline"))
    }

    @Test func aPoolThatAnswersADispatchLateKeepsTheJobWhileItWaits() throws {
        var harness = Harness()
        harness.register("peer-e", pool: "east-1", node: "east", cores: 2)
        let submitted = harness.submit(cores: 1)
        let job = try #require(submitted)
        #expect(harness.core.job(job)?.state == .dispatched)
        // No answer within the dispatch timeout: the job waits, its only pool excluded.
        harness.seconds += 6
        harness.heartbeat("peer-e")
        _ = harness.send(.tick)
        #expect(harness.core.job(job)?.state == .accepted)
        #expect(harness.core.engine.pool("east-1")?.reserved.cpuCores == 0, "the lease went with the timeout")

        // The yes of that attempt arrives after all: the job stays, holding its core again.
        let actions = harness.pool("peer-e", .dispatchAnswer(DispatchAnswer(jobID: job, dispatchSequence: 1, accepted: true, attempt: 1)))
        let kept = try #require(harness.core.job(job))
        #expect(kept.state == .dispatched)
        #expect(kept.pool == "east-1")
        #expect(kept.attempts == 1, "not dispatched a second time")
        #expect(kept.message.contains("answered the dispatch late"))
        #expect(harness.dispatches(to: "peer-e", in: actions).isEmpty)
        #expect(harness.core.engine.pool("east-1")?.reserved.cpuCores == 1)
        harness.report("peer-e", job, .running, attempt: 1)
        #expect(harness.core.job(job)?.state == .running)
        #expect(harness.cancels(to: "peer-e", in: harness.actions).isEmpty, "nothing told the pool to stop it")
    }

    @Test func aLateAnswerAfterTheJobWentElsewhereIsStopped() throws {
        var harness = Harness()
        harness.register("peer-e", pool: "east-1", node: "east", cores: 2)
        harness.register("peer-w", pool: "west-1", node: "west", cores: 2)
        let submitted = harness.submit(cores: 1)
        let job = try #require(submitted)
        #expect(harness.core.job(job)?.pool == "east-1")
        harness.seconds += 6
        harness.heartbeat("peer-e", "peer-w")
        _ = harness.send(.tick)
        #expect(harness.core.job(job)?.pool == "west-1", "placed again on the other pool")

        _ = harness.pool("peer-e", .dispatchAnswer(DispatchAnswer(jobID: job, dispatchSequence: 1, accepted: true, attempt: 1)))
        #expect(harness.core.job(job)?.pool == "west-1")
        #expect(harness.core.job(job)?.attempts == 2)
        harness.report("peer-e", job, .running, attempt: 1)
        #expect(harness.cancels(to: "peer-e", in: harness.actions) == [job], "the late start is stopped")
    }
}

@Suite("Reloads and pages")
struct ReloadAndPageTests {
    @Test func aReloadThatKeepsAPoolDoesNotCountItsRunningJobsTwice() throws {
        var harness = Harness()
        harness.register("peer-e", pool: "east-1", node: "east", cores: 2)
        let firstSubmitted = harness.submit(cores: 1)
        let first = try #require(firstSubmitted)
        harness.update("peer-e", first, .running, attempt: 1)
        // The pool's advertisement reflects the running job: one core of two is free.
        let advertisement = PoolAdvertisement(poolID: "east-1", sequence: 1, free: Resources(cpuCores: 1, memoryBytes: 64 << 30), dispatchSequenceApplied: 1)
        _ = harness.pool("peer-e", .advertisement(advertisement))
        _ = harness.send(.topologyLoaded(twoSites(), path: "same.yaml", replyTo: nil, correlationID: 0))
        #expect(harness.core.engine.pool("east-1")?.reserved.cpuCores == 0, "the advertisement already counts the running job")
        let secondSubmitted = harness.submit(cores: 1)
        #expect(secondSubmitted != nil, "the free core takes a job at once")
    }

    @Test func listingsComeInPagesThatCoverEverything() throws {
        var harness = Harness()
        for index in 0..<7 { harness.register("peer-\(index)", pool: "pool-\(index)", node: index % 2 == 0 ? "east" : "west") }
        var seen: [String] = []
        var request = PageRequest(limit: 3)
        var pages = 0
        repeat {
            guard case .pools(let pools, let next)? = harness.client(.pools(request)) else {
                Issue.record("a pools page")
                return
            }
            #expect(pools.count <= 3)
            seen += pools.map(\.state.id)
            request.cursor = next
            pages += 1
        } while !request.cursor.isEmpty && pages < 10
        #expect(seen == (0..<7).map { "pool-\($0)" })
        #expect(pages == 3)

        for _ in 0..<5 { _ = harness.submit(cores: 1) }
        var snapshot = PageRequest(limit: 2)
        var jobs: [String] = []
        pages = 0
        repeat {
            guard case .snapshot(let page)? = harness.client(.snapshot(snapshot)) else {
                Issue.record("a snapshot page")
                return
            }
            #expect(page.epoch == harness.core.epoch)
            #expect(snapshot.cursor.isEmpty == !page.pools.isEmpty, "pools come with the first page only")
            jobs += page.jobs.map(\.id)
            snapshot.cursor = page.nextCursor
            pages += 1
        } while !snapshot.cursor.isEmpty && pages < 10
        #expect(jobs == (1...5).map { "job-\($0)" })

        let status = StatusQuery(page: PageRequest(cursor: "2", limit: 100_000))
        let asked = harness.send(.fromClient(ClientAddress(frames: [Array("client".utf8)]), correlationID: 3, .status(status)))
        #expect(asked.contains { if case .query(.page(after: 2, limit: 500, activeOnly: false, owner: nil), _, 3) = $0 { true } else { false } }, "a listing is the store's, capped at the page size")
    }
}

@Suite("Link changes")
struct LinkChangeTests {
    @Test func aLinkDownMovesMovingInputsAndLeavesRunningJobsAlone() throws {
        var harness = Harness(detourNetwork())
        harness.register("peer-e", pool: "east-1", node: "east")
        harness.register("peer-w", pool: "west-1", node: "west")
        let runningSubmitted = harness.submit(cores: 1)
        let running = try #require(runningSubmitted)
        harness.update("peer-e", running, .running, attempt: 1)
        let movingSubmitted = harness.submit(cores: 1)
        let moving = try #require(movingSubmitted)
        #expect(harness.core.job(moving)?.path == ["in", "east"])
        let leasesBefore = harness.core.engine.activeLeases.map(\.id)

        _ = harness.send(.linkChanged(LinkChange(link: "in-east", up: false)))
        #expect(harness.core.job(moving)?.path == ["in", "mid", "east"], "the input takes the detour")
        #expect(harness.core.job(moving)?.pool == "east-1")
        #expect(harness.core.job(moving)?.attempts == 1)
        #expect(harness.core.job(running)?.state == .running)
        #expect(harness.core.engine.activeLeases.map(\.id).contains(leasesBefore[0]), "the running job's lease was not taken again")

        let before = harness.actions.count
        _ = harness.send(.linkChanged(LinkChange(link: "mid-east", up: false)))
        #expect(harness.cancels(to: "peer-e", in: harness.actions[before...]) == [moving], "no path reaches east: the moving job is stopped there")
        #expect(harness.core.job(moving)?.pool == "west-1")
        #expect(harness.core.job(moving)?.attempts == 2)
        #expect(harness.core.job(running)?.pool == "east-1", "a running job needs no path")
    }

    @Test func anUnknownLinkOrABadCapacityChangesNothing() throws {
        var harness = Harness(detourNetwork())
        guard case .admin(let unknown)? = harness.client(.setLink(LinkChange(link: "nowhere", up: false))) else {
            Issue.record("an admin reply")
            return
        }
        #expect(!unknown.ok && unknown.message.contains("no link nowhere"))
        guard case .admin(let bad)? = harness.client(.setLink(LinkChange(link: "in-east", capacityGbps: -1))) else { return }
        #expect(!bad.ok && bad.message.contains("capacity"))
        guard case .admin(let fine)? = harness.client(.setLink(LinkChange(link: "in-east", capacityGbps: 40))) else { return }
        #expect(fine.ok, "\(fine.message)")
        #expect(harness.core.engine.network.capacityGbps[0] == 40)
    }
}
