import PoolAgentCore
import Testing
import Topology
import Wire

struct Agent {
    var core = PoolAgentCore(configuration: AgentConfiguration(poolID: "p1", node: "n1", capacity: Resources(cpuCores: 8, memoryBytes: 32 << 30, gpus: ["A100": 2])))
    var now = 0.0

    mutating func handle(_ event: AgentEvent) -> [AgentAction] {
        core.handle(event, now: now, unixMs: Int64(now * 1_000))
    }

    mutating func controller(_ body: WireBody) -> [AgentAction] {
        handle(.fromController(WireMessage(body)))
    }

    mutating func welcome() -> [AgentAction] {
        var welcome = Junction_V1_Welcome()
        welcome.poolID = "p1"
        welcome.heartbeatIntervalMs = 1_000
        welcome.livenessMs = 3_000
        welcome.sessionID = 1
        return controller(.welcome(welcome))
    }

    mutating func dispatch(_ id: String, cores: Double, gpus: UInt32 = 0, sequence: UInt64) -> [AgentAction] {
        var dispatch = Junction_V1_Dispatch()
        dispatch.jobID = id
        dispatch.dispatchSequence = sequence
        dispatch.attempt = 1
        dispatch.spec.command = "/bin/true"
        dispatch.spec.resources.cpuCores = cores
        if gpus > 0 { dispatch.spec.resources.gpus = ["A100": gpus] }
        return controller(.dispatch(dispatch))
    }
}

func sent(_ actions: [AgentAction]) -> [WireBody] {
    actions.compactMap { if case .send(let message) = $0 { return message.body } else { return nil } }
}

@Suite("Pool agent core")
struct PoolAgentCoreTests {
    @Test func registersThenAdvertisesItsCapacity() {
        var agent = Agent()
        guard case .register(let register)? = sent(agent.handle(.connected)).first else {
            Issue.record("the first message is a register")
            return
        }
        #expect(register.poolID == "p1" && register.node == "n1")
        #expect(register.total.cpuCores == 8)
        guard case .advertisement(let advertisement)? = sent(agent.welcome()).last else {
            Issue.record("a welcome is followed by an advertisement")
            return
        }
        #expect(advertisement.sequence == 1)
        #expect(advertisement.free.cpuCores == 8)
        #expect(agent.core.isRegistered)
    }

    @Test func runsWhatFitsOnceAndRefusesWhatDoesNot() {
        var agent = Agent()
        _ = agent.handle(.connected)
        _ = agent.welcome()
        let accepted = agent.dispatch("job-1", cores: 6, gpus: 2, sequence: 1)
        #expect(accepted.contains { if case .run(let id, _, _) = $0 { id == "job-1" } else { false } })
        guard case .dispatchAck(let ack)? = sent(accepted).first else {
            Issue.record("a dispatch gets an ack")
            return
        }
        #expect(ack.accepted)
        #expect(agent.core.free.cpuCores == 2)

        let again = agent.dispatch("job-1", cores: 6, sequence: 1)
        #expect(!again.contains { if case .run = $0 { true } else { false } }, "never a second copy")
        guard case .dispatchAck(let repeated)? = sent(again).first else {
            Issue.record("a repeated dispatch is acknowledged again")
            return
        }
        #expect(repeated.accepted)

        let tooBig = agent.dispatch("job-2", cores: 4, sequence: 2)
        guard case .dispatchAck(let refused)? = sent(tooBig).first else {
            Issue.record("a dispatch that does not fit gets a refusal")
            return
        }
        #expect(!refused.accepted)
        #expect(refused.reason == "2 cores free, 4 asked")
        let noGPU = agent.dispatch("job-3", cores: 1, gpus: 1, sequence: 3)
        guard case .dispatchAck(let gpuRefusal)? = sent(noGPU).first else { return }
        #expect(gpuRefusal.reason == "0 A100 free, 1 asked")
    }

    @Test func aSilentControllerMeansReconnectingWithBackOffAndTheRunningJobsListed() {
        var agent = Agent()
        _ = agent.handle(.connected)
        _ = agent.welcome()
        _ = agent.dispatch("job-1", cores: 2, sequence: 7)
        _ = agent.handle(.jobStarted("job-1"))
        agent.now = 3.5
        let lost = agent.handle(.tick)
        #expect(!agent.core.isRegistered)
        #expect(!lost.contains(.reconnect), "back off first")
        agent.now = 3.9
        #expect(!agent.handle(.tick).contains(.reconnect))
        agent.now = 4.1
        let retry = agent.handle(.tick)
        #expect(retry.first == .reconnect)
        guard case .register(let register)? = sent(retry).first else {
            Issue.record("a reconnect registers again")
            return
        }
        #expect(register.runningJobs.map(\.jobID) == ["job-1"])
        #expect(register.runningJobs.first?.state == .running)
        #expect(register.dispatchSequenceApplied == 7)
        // No welcome this time either: the next wait is twice as long.
        agent.now = 8
        _ = agent.handle(.tick)
        agent.now = 8.9
        #expect(!agent.handle(.tick).contains(.reconnect))
        agent.now = 9.1
        #expect(agent.handle(.tick).contains(.reconnect))
    }

    @Test func aStandbyTurningTheAgentAwaySendsItToTheLeaderWithItsJobsRunning() {
        var agent = Agent()
        _ = agent.handle(.connected)
        _ = agent.welcome()
        _ = agent.dispatch("job-1", cores: 2, sequence: 3)
        _ = agent.handle(.jobStarted("job-1"))
        var notLeader = Junction_V1_ErrorReply()
        notLeader.code = .notLeader
        notLeader.message = "controller b stands by: a leads"
        notLeader.leader.pools = "tcp://a:7410"
        // Twice in a row: a standby answered, so the wait does not grow.
        for round in 0..<2 {
            agent.now += 1
            let turned = agent.controller(.error(notLeader))
            #expect(!turned.contains { if case .stop = $0 { true } else { false } }, "round \(round): no job is stopped")
            #expect(!turned.contains { if case .giveUp = $0 { true } else { false } })
            #expect(agent.core.leaderHint == "tcp://a:7410")
            #expect(!agent.core.isRegistered)
            agent.now += 0.6
            let retry = agent.handle(.tick)
            #expect(retry.first == .reconnect, "round \(round): back after the first back-off step")
            guard case .register(let register)? = sent(retry).first else {
                Issue.record("a reconnect registers again")
                return
            }
            #expect(register.runningJobs.map(\.jobID) == ["job-1"])
        }
        #expect(agent.core.runningJobIDs == ["job-1"])
        // Silence afterwards is no standby's word: the hint is dropped.
        agent.now += 10
        _ = agent.handle(.tick)
        #expect(agent.core.leaderHint.isEmpty)
    }

    @Test func anEndingMissedWhileDisconnectedIsToldAfterTheNextWelcome() {
        var agent = Agent()
        _ = agent.handle(.connected)
        _ = agent.welcome()
        _ = agent.dispatch("job-1", cores: 2, sequence: 1)
        agent.now = 4
        _ = agent.handle(.tick)
        var usage = Junction_V1_Usage()
        usage.wallSeconds = 4
        #expect(sent(agent.handle(.jobExited("job-1", exitCode: 0, usage: usage))).isEmpty)
        agent.now = 6
        _ = agent.handle(.tick)
        let bodies = sent(agent.welcome())
        #expect(bodies.contains { if case .jobUpdate(let update) = $0 { update.jobID == "job-1" && update.state == .succeeded } else { false } })
    }

    @Test func anEndingSentToAControllerThatDiedIsSentAgainAfterTheNextWelcome() {
        var agent = Agent()
        _ = agent.handle(.connected)
        _ = agent.welcome()
        _ = agent.dispatch("job-1", cores: 2, sequence: 1)
        _ = agent.handle(.jobStarted("job-1"))
        agent.now = 1
        let ended = sent(agent.handle(.jobExited("job-1", exitCode: 0, usage: Junction_V1_Usage())))
        #expect(ended.contains { if case .jobUpdate(let update) = $0 { update.state == .succeeded } else { false } })
        // A restarted controller answers the next message with NOT_REGISTERED: the ending may be lost.
        var error = Junction_V1_ErrorReply()
        error.code = .notRegistered
        agent.now = 1.5
        let again = sent(agent.controller(.error(error)))
        #expect(again.contains { if case .register = $0 { true } else { false } }, "registers again at once")
        let bodies = sent(agent.welcome())
        #expect(bodies.contains { if case .jobUpdate(let update) = $0 { update.jobID == "job-1" && update.state == .succeeded && update.attempt == 1 } else { false } })
        // An ending long past is not sent again.
        agent.now = 60
        _ = agent.controller(.error(error))
        #expect(!sent(agent.welcome()).contains { if case .jobUpdate = $0 { true } else { false } })
    }

    @Test func aJobThatEndsBeforeItsStartIsReportedStillRuns() {
        var agent = Agent()
        _ = agent.handle(.connected)
        _ = agent.welcome()
        _ = agent.dispatch("job-1", cores: 1, sequence: 1)
        let ended = sent(agent.handle(.jobExited("job-1", exitCode: 0, usage: Junction_V1_Usage())))
        let states = ended.compactMap { body -> Junction_V1_JobState? in
            if case .jobUpdate(let update) = body { return update.state }
            return nil
        }
        #expect(states == [.running, .succeeded])
        #expect(sent(agent.handle(.jobStarted("job-1"))).isEmpty, "a late start report changes nothing")
    }

    @Test func cancelStopsTheJobAndItEndsCancelled() {
        var agent = Agent()
        _ = agent.handle(.connected)
        _ = agent.welcome()
        _ = agent.dispatch("job-1", cores: 2, sequence: 1)
        var cancel = Junction_V1_CancelJob()
        cancel.jobID = "job-1"
        cancel.graceS = 3
        #expect(agent.controller(.cancelJob(cancel)) == [.stop(jobID: "job-1", graceS: 3)])
        let ended = sent(agent.handle(.jobExited("job-1", exitCode: -15, usage: Junction_V1_Usage())))
        #expect(ended.contains { if case .jobUpdate(let update) = $0 { update.state == .cancelled } else { false } })
        #expect(agent.core.free.cpuCores == 8)
    }

    @Test func jobsSharingAGPUTakeItOnceAndNoMoreThanAllOfIt() {
        var agent = Agent()
        _ = agent.handle(.connected)
        _ = agent.welcome()
        func share(_ id: String, gpu: UInt32, part: Double, sequence: UInt64) -> Junction_V1_DispatchAck? {
            var dispatch = Junction_V1_Dispatch()
            dispatch.jobID = id
            dispatch.dispatchSequence = sequence
            dispatch.spec.command = "/bin/true"
            dispatch.spec.resources.cpuCores = 1
            dispatch.spec.gpuShare.model = "A100"
            dispatch.spec.gpuShare.gpu = gpu
            dispatch.spec.gpuShare.share = part
            for case .dispatchAck(let ack) in sent(agent.controller(.dispatch(dispatch))) { return ack }
            return nil
        }
        #expect(share("a", gpu: 0, part: 0.5, sequence: 1)?.accepted == true)
        #expect(share("b", gpu: 0, part: 0.4, sequence: 2)?.accepted == true)
        #expect(agent.core.free.gpus["A100"] == 1, "two jobs on one GPU take it once")
        let over = share("c", gpu: 0, part: 0.2, sequence: 3)
        #expect(over?.accepted == false)
        #expect(over?.reason == "shared A100 0 has 0.1 free, 0.2 asked")
        #expect(share("d", gpu: 1, part: 0.2, sequence: 4)?.accepted == true)
        #expect(agent.core.free.gpus["A100"] == 0)
        #expect(share("e", gpu: 2, part: 0.2, sequence: 5)?.reason == "no A100 free to share")
        #expect(agent.core.sharedGPUs["A100"]?[0] == 0.9)
    }
}
