import PoolAgentCore
import Testing
import Topology
import Wire

@Suite("GPU devices")
struct GPUAssignmentTests {
    /// Four H100s numbered as nvidia-smi numbers them, and two L4s it did not list.
    func agent() -> Agent {
        var configuration = AgentConfiguration(poolID: "p1", node: "n1", capacity: Resources(cpuCores: 32, memoryBytes: 64 << 30, gpus: ["H100": 4, "L4": 2]))
        configuration.gpuDevices = ["H100": [0, 1, 2, 3]]
        var agent = Agent()
        agent.core = PoolAgentCore(configuration: configuration)
        _ = agent.handle(.connected)
        _ = agent.welcome()
        return agent
    }

    func dispatched(_ agent: inout Agent, _ id: String, sequence: UInt64, gpus: [String: UInt32] = [:], share: (model: String, gpu: UInt32, amount: Double)? = nil) -> GPUAssignment? {
        var dispatch = Junction_V1_Dispatch()
        dispatch.jobID = id
        dispatch.dispatchSequence = sequence
        dispatch.attempt = 1
        dispatch.spec.command = "/bin/true"
        dispatch.spec.resources.cpuCores = 1
        dispatch.spec.resources.gpus = gpus
        if let share {
            dispatch.spec.gpuShare.model = share.model
            dispatch.spec.gpuShare.gpu = share.gpu
            dispatch.spec.gpuShare.share = share.amount
        }
        for case .run(_, _, let assigned) in agent.controller(.dispatch(dispatch)) { return assigned }
        return nil
    }

    @Test func noDeviceIsGivenToTwoJobsAndAnEndedJobsDevicesAreGivenAgain() {
        var agent = agent()
        #expect(agent.core.configuration.deviceIndices == ["H100": [0, 1, 2, 3], "L4": [4, 5]], "unlisted models are numbered after the listed ones")
        let first = dispatched(&agent, "job-1", sequence: 1, gpus: ["H100": 2])
        #expect(first?.devices == [0, 1] && first?.models == ["H100"])
        let share = dispatched(&agent, "job-2", sequence: 2, share: ("H100", 0, 0.5))
        #expect(share?.sharedDevice == 2 && share?.devices == [], "a shared GPU is on a device nobody holds whole")
        let second = dispatched(&agent, "job-3", sequence: 3, gpus: ["H100": 1, "L4": 2])
        #expect(second?.devices == [3, 4, 5] && second?.models == ["H100", "L4"])
        let sameShare = dispatched(&agent, "job-4", sequence: 4, share: ("H100", 0, 0.25))
        #expect(sameShare?.sharedDevice == 2, "jobs sharing one GPU share its device")
        // Every H100 is taken now, whole or shared: a further whole one is refused with the reason.
        #expect(dispatched(&agent, "job-5", sequence: 5, gpus: ["H100": 1]) == nil)
        _ = agent.handle(.jobExited("job-1", exitCode: 0, usage: Junction_V1_Usage()))
        let again = dispatched(&agent, "job-6", sequence: 6, gpus: ["H100": 2])
        #expect(again?.devices == [0, 1])
    }
}
