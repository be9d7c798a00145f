import ControllerCore
import ControllerWire
import Placement
import Testing
import Topology
import Wire

@Suite("Controller wire adapter")
struct ControllerWireTests {
    @Test func aJobSurvivesTheStoresEncodingWhole() throws {
        let estimate = Estimate(
            latencyMs: 4, bottleneckGbps: 10, pathCost: 2, hops: 1, transferS: 0.5, queueS: 1, runtimeS: 60,
            completionS: 61.5, price: 0.2, processingLatencyMs: 0, gpuModel: "A100"
        )
        let spec = JobSpec(
            command: "/bin/train", arguments: ["--epochs", "3"], environment: ["SEED": "1"],
            resources: Resources(cpuCores: 4, memoryBytes: 8 << 30, gpus: ["A100": 2]), name: "train",
            runtimeEstimateS: 60, delivery: .atMostOnce
        )
        let job = JobView(
            id: "job-7", state: .running, pool: "east-1", path: ["in", "east"], estimate: estimate, exitCode: 0,
            usage: JobUsage(wallSeconds: 3, coreSeconds: 12, gpuSeconds: 6, bytesIn: 10, bytesOut: 20), attempts: 2,
            message: "started on east-1", submittedMs: 1_000, updatedMs: 2_000, spec: spec,
            history: [JobTransition(state: .accepted, timestampMs: 1_000, pool: "", reason: "submitted"),
                      JobTransition(state: .running, timestampMs: 2_000, pool: "east-1", reason: "started on east-1")]
        )
        let bytes: [UInt8] = try job.wire.serializedBytes()
        #expect(JobView(try Junction_V1_JobInfo(serializedBytes: bytes)) == job)

        var shared = spec
        shared.resources.gpus = [:]
        shared.gpuShare = LeaseShare(model: "L4", gpu: 1, amount: 0.25)
        #expect(JobSpec(shared.wire) == shared)
        var request = PlacementRequest(
            ingress: "in", cpuCores: 2, memoryBytes: 1 << 30, gpuCount: 1, gpuModels: ["L4"], dataBytes: 1e9,
            minBandwidthGbps: 5, maxLatencyMs: 20, runtimeS: 30, labels: [LabelConstraint("region", .in, ["eu", "us"])],
            objective: .cost, alternatives: 2, explain: false
        )
        request.gpuShare = 0.25
        #expect(PlacementRequest(request.wire, explain: false) == request)
        // A negative budget is kept, so the engine refuses it rather than treat it as none.
        var negative = Junction_V1_PlacementRequest()
        negative.maxLatencyMs = -1
        #expect(PlacementRequest(negative, explain: false).maxLatencyMs == -1)
    }

    @Test func aSubmitAsksForRunnersUpOnlyWhenItSaysHowMany() throws {
        func asked(_ alternatives: UInt32, submit: Bool) -> Int? {
            var request = Junction_V1_PlacementRequest()
            request.ingress = "in"
            request.alternatives = alternatives
            var message = Junction_V1_SubmitRequest()
            message.request = request
            message.spec.command = "/bin/true"
            var place = Junction_V1_PlaceRequest()
            place.request = request
            switch ClientRequest(WireMessage(submit ? .submit(message) : .place(place))) {
            case .submit(let submission): return submission.request.alternatives
            case .place(let placement): return placement.alternatives
            default: return nil
            }
        }
        #expect(asked(0, submit: true) == 0)
        #expect(asked(2, submit: true) == 2)
        #expect(asked(500, submit: true) == 20)
        #expect(asked(0, submit: false) == 3, "a placement shows three unless it says otherwise")
        #expect(asked(2, submit: false) == 2)
    }

    @Test func framesBecomeTypedInputs() throws {
        var register = Junction_V1_Register()
        register.poolID = "east-1"
        register.node = "east"
        register.total.cpuCores = 8
        var running = Junction_V1_RunningJob()
        running.jobID = "job-3"
        running.attempt = 2
        register.runningJobs = [running]
        let registerBytes = try WireMessage(.register(register), correlationID: 5).serialized()
        guard case .fromPool(let peer, 5, .register(let registration), let caller) = ControllerWire.event(frames: [[1, 2], registerBytes], on: .pools, caller: "east-agent") else {
            Issue.record("a registration")
            return
        }
        #expect(peer == [1, 2])
        #expect(caller == "east-agent", "the key the handshake named")
        #expect(registration == PoolRegistration(poolID: "east-1", node: "east", total: Resources(cpuCores: 8), runningJobs: [RunningJob(jobID: "job-3", attempt: 2)]))

        var update = Junction_V1_JobUpdate()
        update.jobID = "job-3"
        update.state = .unspecified
        let updateBytes = try WireMessage(.jobUpdate(update)).serialized()
        guard case .fromPool(_, _, .jobReport(let report), _) = ControllerWire.event(frames: [[1], updateBytes], on: .pools) else {
            Issue.record("a job report")
            return
        }
        #expect(report.state == .accepted, "an unspecified state reaches the core as one it refuses")

        let heartbeat = try WireMessage(.heartbeat(Junction_V1_Heartbeat()), correlationID: 44).serialized()
        guard case .fromClient(let address, 44, .unexpected("heartbeat"), _) = ControllerWire.event(frames: [[9], [], heartbeat], on: .clients) else {
            Issue.record("a pool message on the clients endpoint is unexpected")
            return
        }
        #expect(address.frames == [[9], []])

        var admin = Junction_V1_AdminRequest()
        var set = Junction_V1_SetLink()
        set.link = "in-east"
        set.state = .down
        admin.action = .setLink(set)
        let adminBytes = try WireMessage(.admin(admin)).serialized()
        guard case .fromClient(_, _, .setLink(let change), _) = ControllerWire.event(frames: [[9], adminBytes], on: .clients) else {
            Issue.record("a link change")
            return
        }
        #expect(change == LinkChange(link: "in-east", up: false))
        let empty = try WireMessage(.admin(Junction_V1_AdminRequest())).serialized()
        guard case .fromClient(_, _, .invalid, _) = ControllerWire.event(frames: [[9], empty], on: .clients) else {
            Issue.record("an admin request without an action is invalid")
            return
        }

        guard case .undecodable(.pools, _, let extra) = ControllerWire.event(frames: [[1], [2], registerBytes], on: .pools) else {
            Issue.record("three frames on the pools endpoint are malformed")
            return
        }
        #expect(extra.reason == "malformed" && extra.answer == nil)
        var envelope = Junction_V1_Envelope()
        envelope.protocolVersion = 99
        envelope.correlationID = 7
        envelope.heartbeat = Junction_V1_Heartbeat()
        guard case .undecodable(.clients, _, let version) = ControllerWire.event(frames: [[9], try envelope.serializedBytes()], on: .clients) else {
            Issue.record("another version is undecodable")
            return
        }
        #expect(version.answer?.code == .unsupportedVersion && version.correlationID == 7)
    }

    @Test func commandsAndRepliesBecomeTheProtocolsMessages() throws {
        var spec = JobSpec(command: "/bin/true", resources: Resources(cpuCores: 1))
        spec.gpuShare = LeaseShare(model: "A100", gpu: 0, amount: 0.5)
        let dispatch = ControllerWire.message(.dispatch(JobDispatch(jobID: "job-3", dispatchSequence: 4, spec: spec, path: ["in", "east"], leaseID: 12, leaseExpiresMs: 9_000, attempt: 2)), correlationID: 0)
        guard case .dispatch(let wire) = dispatch.body else {
            Issue.record("a dispatch")
            return
        }
        #expect(wire.leaseID == "lease-12")
        #expect(wire.attempt == 2)
        #expect(wire.spec.gpuShare.model == "A100" && wire.spec.gpuShare.share == 0.5)

        let refusal = ControllerWire.message(ClientReply.error(ControllerError(.noPlacement, "no pool")), correlationID: 3)
        guard case .error(let error) = refusal.body else {
            Issue.record("an error")
            return
        }
        #expect(error.code == .noPlacement && refusal.correlationID == 3)
        let cancelled = ControllerWire.message(ClientReply.cancelled(nil), correlationID: 4)
        guard case .cancelled(let reply) = cancelled.body else {
            Issue.record("a cancel reply")
            return
        }
        #expect(!reply.hasJob)
    }
}
