import ControllerCore
import Placement
import Testing
import Topology

@Suite("Controller plans")
final class PlanningTests {
    var sequence: UInt64 = 1

    /// One 16-core pool at east, with a 16-core job running there for 100 s from 0.
    func busyEast(_ configuration: ControllerConfiguration = ControllerConfiguration()) -> (Harness, String) {
        var harness = Harness()
        harness.core = ControllerCore(topology: twoSites(), configuration: configuration)
        harness.register("east-agent", pool: "east-1", node: "east")
        let first = harness.submit(Submission(request: PlacementRequest(ingress: "in", cpuCores: 16, runtimeS: 100), spec: JobSpec(command: "/bin/true")))!
        harness.report("east-agent", first, .running)
        advertise(&harness, free: 0)
        return (harness, first)
    }

    /// The pool's report of what is free, counting the first dispatch.
    func advertise(_ harness: inout Harness, free cores: Double) {
        sequence += 1
        let report = PoolAdvertisement(poolID: "east-1", sequence: sequence, free: Resources(cpuCores: cores, memoryBytes: 64 << 30), dispatchSequenceApplied: 1)
        _ = harness.pool("east-agent", .advertisement(report))
    }

    func submitPlanned(_ harness: inout Harness, runtime: Double = 50) -> (id: String, start: Double)? {
        let submission = Submission(request: PlacementRequest(ingress: "in", cpuCores: 16, runtimeS: runtime), spec: JobSpec(command: "/bin/true"))
        guard case .submitted(let result)? = harness.client(.submit(submission)), let winner = result.placement?.winner else { return nil }
        return (result.jobID, winner.estimate.startS)
    }

    @Test func aJobWithNoRoomNowIsPlannedAndDispatchedWhenItsStartComes() throws {
        var (harness, first) = busyEast()
        let sent = harness.actions.count
        let planned = try #require(submitPlanned(&harness))
        #expect(abs(planned.start - 100.002) < 1e-6, "the first job's 2 ms and 100 s")
        #expect(harness.dispatches(to: "east-agent", in: Array(harness.actions[sent...])).isEmpty, "nothing is sent before the start")
        let view = try #require(harness.status(planned.id))
        #expect(view.state == .accepted && view.pool == "east-1" && view.plannedStartMs > 0)
        #expect(view.message.contains("planned on east-1 via in → east to start in 100.002 s, estimated done in 2.5 min"), "\(view.message)")

        // The first job ends on time; the tick at the planned start dispatches the second.
        harness.seconds = 100.002
        harness.report("east-agent", first, .succeeded)
        advertise(&harness, free: 16)
        let tick = harness.send(.tick)
        #expect(harness.dispatches(to: "east-agent", in: tick).map(\.jobID) == [planned.id])
        #expect(harness.status(planned.id)?.plannedStartMs == 0)
    }

    @Test func aPlannedJobThatGaveNoRuntimeIsNotToldWhenItWillBeDone() throws {
        var (harness, _) = busyEast()
        let planned = try #require(submitPlanned(&harness, runtime: 0))
        let message = try #require(harness.status(planned.id)).message
        #expect(message == "planned on east-1 via in → east to start in 100.002 s", "the default runtime it was planned with is no estimate: \(message)")
    }

    @Test func anEarlyEndMovesThePlanUp() throws {
        var (harness, first) = busyEast()
        let planned = try #require(submitPlanned(&harness))
        harness.seconds = 10
        harness.report("east-agent", first, .succeeded)
        advertise(&harness, free: 16)
        let tick = harness.send(.tick)
        #expect(harness.dispatches(to: "east-agent", in: tick).map(\.jobID) == [planned.id], "90 s sooner than planned")
    }

    @Test func aLongPlanIsRevisedAFewJobsATickWithoutStartingOverEachTick() throws {
        var configuration = ControllerConfiguration()
        configuration.plansRevisedPerTick = 1
        var (harness, _) = busyEast(configuration)
        harness.register("west-agent", pool: "west-1", node: "west", cores: 8)
        func job(_ cores: Double, _ runtime: Double) -> Submission {
            Submission(request: PlacementRequest(ingress: "in", cpuCores: cores, runtimeS: runtime), spec: JobSpec(command: "/bin/true"))
        }
        let submitted = [harness.submit(job(8, 1_000)), harness.submit(job(16, 50)), harness.submit(job(8, 50))]
        let west = try #require(submitted[0]), whole = try #require(submitted[1]), half = try #require(submitted[2])
        harness.report("west-agent", west, .running)
        #expect(harness.status(whole)?.pool == "east-1" && harness.status(half)?.pool == "east-1", "both planned on east, one after the other")
        // West frees early. The first planned job cannot use it (8 cores); the second can.
        harness.seconds = 10
        harness.report("west-agent", west, .succeeded)
        _ = harness.pool("west-agent", .advertisement(PoolAdvertisement(poolID: "west-1", sequence: 5, free: Resources(cpuCores: 8, memoryBytes: 64 << 30), dispatchSequenceApplied: 1)))
        harness.heartbeat("east-agent")
        #expect(harness.dispatches(to: "west-agent", in: harness.send(.tick)).isEmpty, "one job looked at: the one that stays")
        #expect(harness.dispatches(to: "west-agent", in: harness.send(.tick)).map(\.jobID) == [half], "the next tick goes on after it")
    }

    @Test func aJobThatOverrunsDelaysThePlanAndIsNotStopped() throws {
        var (harness, _) = busyEast()
        let planned = try #require(submitPlanned(&harness))
        harness.seconds = 101
        advertise(&harness, free: 0)
        let tick = harness.send(.tick)
        #expect(harness.dispatches(to: "east-agent", in: tick).isEmpty)
        #expect(harness.cancels(to: "east-agent", in: tick).isEmpty, "an overrun is not a failure")
        let view = try #require(harness.status(planned.id))
        #expect(view.state == .accepted && view.pool == "east-1")
        #expect(view.plannedStartMs >= 1_790_000_000_000 + 161_000, "a minute more for the first job: \(view.plannedStartMs)")
    }

    @Test func cancellingAPlannedJobGivesItsPlaceBack() throws {
        var (harness, _) = busyEast()
        let planned = try #require(submitPlanned(&harness))
        #expect(!harness.core.engine.plans(on: "east-1").isEmpty)
        guard case .cancelled(let view)? = harness.client(.cancel(jobID: planned.id)) else {
            Issue.record("no cancel reply")
            return
        }
        #expect(view?.state == .cancelled)
        #expect(harness.core.engine.plans(on: "east-1").isEmpty)
        // The next job takes the place the cancelled one had.
        let next = try #require(submitPlanned(&harness))
        #expect(abs(next.start - 100.002) < 1e-6)
    }

    @Test func aLostPoolsPlannedJobsArePlannedElsewhere() throws {
        var (harness, _) = busyEast()
        harness.register("west-agent", pool: "west-1", node: "west", cores: 8)
        let planned = try #require(submitPlanned(&harness))
        #expect(harness.status(planned.id)?.pool == "east-1", "west has only 8 cores")
        harness.register("west-big", pool: "west-2", node: "west", cores: 16)
        _ = harness.pool("east-agent", .goodbye(reason: "maintenance"))
        // The running job goes to west-2 first, as the older; the planned one is planned after it.
        #expect(harness.status("job-1")?.pool == "west-2" && harness.status("job-1")?.state == .dispatched)
        let view = try #require(harness.status(planned.id))
        #expect(view.pool == "west-2" && view.state == .accepted && view.plannedStartMs > 0, "\(view.message)")
    }

    @Test func aRestartedControllerPlansItsPlannedJobsAgain() throws {
        var (first, running) = busyEast()
        let planned = try #require(submitPlanned(&first))
        var second = first.restarted(after: 1)
        #expect(second.core.job(planned.id)?.state == .accepted, "the store keeps it as accepted")
        second.register("east-agent", pool: "east-1", node: "east", running: [running])
        advertise(&second, free: 0)
        _ = second.send(.tick)
        let view = try #require(second.status(planned.id))
        #expect(view.pool == "east-1" && view.plannedStartMs > 0, "\(view.state) \(view.message) \(view.history.map(\.reason))")
        #expect(second.core.job(running)?.state == .running)
    }

    @Test func withoutAPlanHorizonASubmitThatFitsNowhereNowIsRefused() {
        var configuration = ControllerConfiguration()
        configuration.planHorizonS = 0
        var (harness, _) = busyEast(configuration)
        let submission = Submission(request: PlacementRequest(ingress: "in", cpuCores: 16, runtimeS: 50), spec: JobSpec(command: "/bin/true"))
        guard case .error(let error)? = harness.client(.submit(submission)) else {
            Issue.record("a submit nothing can take now was not refused")
            return
        }
        #expect(error.code == .noPlacement)
    }
}
