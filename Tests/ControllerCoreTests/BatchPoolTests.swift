import ControllerCore
import Testing
import Topology

extension Harness {
    /// Registers a batch pool: its jobs run on without its agent.
    mutating func registerBatchPool(_ peer: String, pool: String, node: String, running: [String] = []) {
        let registration = PoolRegistration(
            poolID: pool, node: node, total: Resources(cpuCores: 16, memoryBytes: 64 << 30),
            runningJobs: running.map { RunningJob(jobID: $0) }, jobsOutliveAgent: true
        )
        _ = self.pool(peer, .register(registration))
    }

    /// Lets `seconds` pass with only `peers` heard from, ticking once a second.
    mutating func wait(_ seconds: Double, hearing peers: [String] = []) {
        let end = self.seconds + seconds
        while self.seconds < end {
            self.seconds = min(end, self.seconds + 1)
            for peer in peers { _ = pool(peer, .heartbeat) }
            _ = send(.tick)
        }
    }
}

/// A batch pool `hpc` (east) running a job, and an ordinary pool `west-1` that could take it.
private func runningOnABatchPool(graceS: Double = ControllerConfiguration().batchGraceS, west: Bool = true) throws -> (Harness, String) {
    var harness = Harness()
    var configuration = ControllerConfiguration()
    configuration.batchGraceS = graceS
    harness.core = ControllerCore(topology: twoSites(), configuration: configuration)
    harness.registerBatchPool("slurm-agent", pool: "hpc", node: "east")
    if west { harness.register("peer-w", pool: "west-1", node: "west") }
    let submitted = harness.submit()
    let job = try #require(submitted)
    #expect(harness.status(job)?.pool == "hpc")
    harness.report("slurm-agent", job, .running)
    return (harness, job)
}

@Suite("Batch pools")
struct BatchPoolTests {
    @Test func aSilentBatchPoolKeepsItsRunningJobUntilItsAgentComesBack() throws {
        var (harness, job) = try runningOnABatchPool()
        // The agent goes silent for far longer than the liveness window.
        harness.wait(60, hearing: ["peer-w"])
        #expect(harness.core.engine.pool("hpc")?.liveness == .down)
        let held = try #require(harness.status(job))
        #expect(held.state == .running && held.pool == "hpc", "still in the batch system: \(held)")
        #expect(harness.dispatches(to: "peer-w", in: harness.actions).isEmpty, "never placed again meanwhile")

        // An agent started again lists it: it carries on there, once.
        let before = harness.actions.count
        harness.registerBatchPool("slurm-agent-2", pool: "hpc", node: "east", running: [job])
        #expect(harness.welcome(in: harness.actions[before...])?.stopJobs == [])
        harness.wait(10, hearing: ["slurm-agent-2", "peer-w"])
        harness.report("slurm-agent-2", job, .succeeded)
        let done = try #require(harness.status(job))
        #expect(done.state == .succeeded && done.attempts == 1, "\(done)")
    }

    @Test func aBatchPoolAwayLongerThanTheGraceHasItsJobsPlacedAgainAndStoppedOnItsReturn() throws {
        var (harness, job) = try runningOnABatchPool(graceS: 6)
        // (Within the 15 s an advertisement stays fresh, so west can take it.)
        harness.wait(8, hearing: ["peer-w"])
        #expect(harness.status(job)?.pool == "hpc")
        harness.wait(5, hearing: ["peer-w"])
        let moved = try #require(harness.status(job))
        #expect(moved.pool == "west-1" && moved.attempts == 2, "\(moved)")
        #expect(moved.history.contains { $0.reason.contains("no agent of batch pool hpc reported it within 6 s of losing its session") }, "\(moved.history)")
        // The agent that comes back at last is told to stop its copy.
        let before = harness.actions.count
        harness.registerBatchPool("slurm-agent-2", pool: "hpc", node: "east", running: [job])
        #expect(harness.welcome(in: harness.actions[before...])?.stopJobs == [job])
    }

    @Test func aBatchPoolThatSaysGoodbyeOrAnOrdinaryPoolLosesItsJobsAtOnce() throws {
        var (harness, job) = try runningOnABatchPool()
        _ = harness.pool("slurm-agent", .goodbye(reason: "stopping for good"))
        #expect(harness.status(job)?.pool == "west-1", "a goodbye means the jobs are gone with the agent")

        var plain = Harness()
        plain.register("peer-e", pool: "east-1", node: "east")
        plain.register("peer-w", pool: "west-1", node: "west")
        let submittedThere = plain.submit()
        let other = try #require(submittedThere)
        plain.report("peer-e", other, .running)
        plain.wait(10, hearing: ["peer-w"])
        #expect(plain.status(other)?.pool == "west-1", "an ordinary pool's jobs die with its agent")
    }

    @Test func aJobCancelledWhileItsBatchPoolIsAwayIsStoppedWhenAnAgentComesBack() throws {
        var (harness, job) = try runningOnABatchPool(west: false)
        harness.wait(30)
        _ = harness.client(.cancel(jobID: job))
        #expect(harness.status(job)?.state == .running, "its pool has not stopped it yet")
        let before = harness.actions.count
        harness.registerBatchPool("slurm-agent-2", pool: "hpc", node: "east", running: [job])
        #expect(harness.welcome(in: harness.actions[before...])?.stopJobs == [job])
        harness.report("slurm-agent-2", job, .cancelled)
        #expect(harness.status(job)?.state == .cancelled)
    }

    @Test func aDispatchItsAgentNeverAnsweredIsPlacedAgainAtOnce() throws {
        var harness = Harness()
        var configuration = ControllerConfiguration()
        configuration.dispatchTimeoutS = 60
        harness.core = ControllerCore(topology: twoSites(), configuration: configuration)
        harness.registerBatchPool("slurm-agent", pool: "hpc", node: "east")
        harness.register("peer-w", pool: "west-1", node: "west")
        let submitted = harness.submit()
        let job = try #require(submitted)
        #expect(harness.status(job)?.state == .dispatched)
        harness.wait(7, hearing: ["peer-w"])
        #expect(harness.status(job)?.pool == "west-1", "it may never have reached the batch system")
    }

    @Test func noGraceMeansTheJobsArePlacedAgainAsForAnyPool() throws {
        var (harness, job) = try runningOnABatchPool(graceS: 0)
        harness.wait(10, hearing: ["peer-w"])
        #expect(harness.status(job)?.pool == "west-1")
    }
}
