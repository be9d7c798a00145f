import PoolAgentCore
import Testing
import Topology
import Wire

/// A pool whose capacity a batch system reports: two nodes of 4 cores, 16 GiB and 2 A100s.
private func batchAgent(free: Resources = Resources(cpuCores: 8, memoryBytes: 32 << 30, gpus: ["A100": 4]), queueWaitS: Double = 0) -> Agent {
    var agent = Agent()
    let node = Resources(cpuCores: 4, memoryBytes: 16 << 30, gpus: ["A100": 2])
    let observation = PoolObservation(total: Resources(cpuCores: 8, memoryBytes: 32 << 30, gpus: ["A100": 4]), free: free, nodes: [node, node], queueWaitS: queueWaitS)
    _ = agent.handle(.observed(observation))
    return agent
}

private func advertisements(_ actions: [AgentAction]) -> [Junction_V1_Advertisement] {
    sent(actions).compactMap { if case .advertisement(let advertisement) = $0 { advertisement } else { nil } }
}

private func acks(_ actions: [AgentAction]) -> [Junction_V1_DispatchAck] {
    sent(actions).compactMap { if case .dispatchAck(let ack) = $0 { ack } else { nil } }
}

@Suite("Pool agent core with a batch system")
struct BatchSystemTests {
    @Test func advertisesWhatTheBatchSystemReportsAndItsQueueWait() {
        var agent = batchAgent(free: Resources(cpuCores: 3, memoryBytes: 8 << 30, gpus: ["A100": 1]), queueWaitS: 120)
        guard case .register(let register)? = sent(agent.handle(.connected)).first else {
            Issue.record("the first message is a register")
            return
        }
        #expect(register.total.cpuCores == 8, "the cluster's total, not the configured capacity")
        let advertised = advertisements(agent.welcome())
        #expect(advertised.last?.free.cpuCores == 3)
        #expect(advertised.last?.free.gpus["A100"] == 1)
        #expect(advertised.last?.queueWaitS == 120)
        #expect(advertised.last?.total.cpuCores == 8)

        // A new report with a longer queue is advertised at once; the same report again is not.
        let longer = PoolObservation(total: agent.core.total, free: agent.core.free, nodes: agent.core.observation?.nodes ?? [], queueWaitS: 300)
        #expect(advertisements(agent.handle(.observed(longer))).last?.queueWaitS == 300)
        #expect(advertisements(agent.handle(.observed(longer))).isEmpty)
    }

    @Test func queuesWhatFitsANodeEvenWhenNothingIsFreeAndRefusesWhatFitsNoNode() {
        var agent = batchAgent(free: Resources())
        _ = agent.handle(.connected)
        _ = agent.welcome()
        let queued = agent.dispatch("job-1", cores: 4, gpus: 2, sequence: 1)
        #expect(acks(queued).first?.accepted == true, "the batch system queues it")
        #expect(queued.contains { if case .run(let id, _, let gpus) = $0 { id == "job-1" && gpus.devices.isEmpty } else { false } }, "the batch system assigns devices")

        let tooLarge = agent.dispatch("job-2", cores: 6, sequence: 2)
        let refusal = acks(tooLarge).first
        #expect(refusal?.accepted == false)
        #expect(refusal?.reason.contains("no node of the batch system has 6 cores") == true)
        #expect(refusal?.reason.contains("the largest has 4 cores") == true)

        var share = Junction_V1_Dispatch()
        share.jobID = "job-3"
        share.dispatchSequence = 3
        share.spec.command = "/bin/true"
        share.spec.gpuShare.model = "A100"
        share.spec.gpuShare.share = 0.5
        #expect(acks(agent.controller(.dispatch(share))).first?.reason.contains("whole GPUs only") == true)
    }

    @Test func aJobQueuedInTheBatchSystemCountsAgainstFreeUntilItRuns() {
        var agent = batchAgent()
        _ = agent.handle(.connected)
        _ = agent.welcome()
        _ = agent.dispatch("job-1", cores: 2, gpus: 1, sequence: 1)
        #expect(agent.core.free.cpuCores == 6, "queued: the batch system's report does not hold it yet")
        #expect(agent.core.free.gpus["A100"] == 3)
        _ = agent.handle(.jobStarted("job-1"))
        #expect(agent.core.free.cpuCores == 8, "running: the batch system's next report holds it, not the agent")
    }

    @Test func adoptedJobsAreNamedOnRegisteringAndReportedWhenTheyEnd() {
        var agent = batchAgent()
        var spec = Junction_V1_JobSpec()
        spec.command = "/bin/true"
        spec.resources.cpuCores = 1
        agent.core.adopt([
            AdoptedJob(jobID: "job-7", spec: spec, dispatchSequence: 12, attempt: 2, started: true, output: "host:/work/job-7"),
            AdoptedJob(jobID: "job-8", spec: spec, dispatchSequence: 13, attempt: 1, started: false, output: "host:/work/job-8"),
        ])
        guard case .register(let register)? = sent(agent.handle(.connected)).first else {
            Issue.record("the first message is a register")
            return
        }
        #expect(register.runningJobs.map(\.jobID) == ["job-7", "job-8"])
        #expect(register.runningJobs.map(\.state) == [.running, .dispatched])
        #expect(register.runningJobs.map(\.attempt) == [2, 1])
        #expect(register.dispatchSequenceApplied == 13)
        _ = agent.welcome()
        let ended = sent(agent.handle(.jobExited("job-7", exitCode: 0, usage: Junction_V1_Usage())))
        let update = ended.compactMap { if case .jobUpdate(let update) = $0 { update } else { nil } }.first
        #expect(update?.state == .succeeded)
        #expect(update?.attempt == 2)
        #expect(update?.output == "host:/work/job-7")
    }

    @Test func aRestartedAgentTheControllerStillHearsTriesAgainSoonAtTheSameController() {
        var agent = Agent()
        _ = agent.handle(.connected)
        var conflict = Junction_V1_ErrorReply()
        conflict.code = .conflict
        conflict.message = "pool p1 already has a live session"
        _ = agent.controller(.error(conflict))
        #expect(agent.core.staysWithController)
        agent.now += 0.5
        let retry = agent.handle(.tick)
        #expect(retry.first == .reconnect, "after the first back-off step, not after a welcome timeout")
        #expect(sent(retry).contains { if case .register = $0 { true } else { false } })
    }
}
