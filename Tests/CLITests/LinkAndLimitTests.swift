import Foundation
import Testing
import ZeroMQ

@Suite("junction link", .serialized)
struct LinkCommandTests {
    @Test func aLinkGoesDownAndComesBackWithoutAReload() async throws {
        let topology = try temporaryFile(twoSiteTopology, suffix: ".yaml")
        let controller = try await RunningController.start(topology: topology)
        defer { controller.process.signal(SIGKILL) }
        let down = try await controller.client("link", "users-near", "--down")
        #expect(down.status == 0, "\(down.errors)")
        #expect(down.output.contains("link users-near down"))
        let up = try await controller.client("link", "users-near", "--up", "--capacity-gbps", "40")
        #expect(up.status == 0 && up.output.contains("up, 40 Gbps"), "\(up.output) \(up.errors)")
        let unknown = try await controller.client("link", "nowhere", "--down")
        #expect(unknown.status != 0)
        #expect(unknown.errors.contains("no link nowhere"))
        let neither = try await controller.client("link", "users-near")
        #expect(neither.status != 0 && neither.errors.contains("give --down, --up or --capacity-gbps"))
    }
}

@Suite("Replies at the message limit", .serialized)
struct ReplyLimitTests {
    @Test func aListingPastTheLimitComesInPagesThatFitAndAReplyPastItIsAnErrorNeverSilence() async throws {
        let work = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let topology = try temporaryFile(twoSiteTopology, suffix: ".yaml")
        let controller = try await RunningController.start(topology: topology)
        defer { controller.process.signal(SIGKILL) }
        let pool = try JunctionProcess(["pool", "--id", "near-1", "--node", "near", "--pools", controller.pools, "--cpu", "8", "--memory-gib", "8", "--work-dir", work])
        defer { pool.signal(SIGKILL) }
        try await controller.waitForPools(["near-1"])
        // Three jobs of 400 KB each: any two fit in a reply, all three do not.
        // A single argument may not exceed 128 KiB, so four of 100 KB.
        let bulk = String(repeating: "x", count: 100_000)
        for _ in 0..<3 {
            let submit = try await controller.client("submit", "--from", "users", "--cpu", "1", "--", "/bin/true", bulk, bulk, bulk, bulk)
            #expect(submit.status == 0, "\(submit.errors)")
        }
        // The controller cuts the listing's page to what fits and says where the next begins.
        let all = try await controller.client("status", "--json")
        #expect(all.status == 0, "\(all.errors)")
        #expect(["job-1", "job-2", "job-3"].allSatisfy { all.output.contains("\"\($0)\"") }, "\(all.output.prefix(400))")
        #expect(!controller.process.errorsSoFar.contains("over the message limit"), "\(controller.process.errorsSoFar)")
        // Named jobs are not paged: past the limit, an error that says why.
        let named = try await controller.client("status", "job-1", "job-2", "job-3", "--json")
        #expect(named.status != 0 && named.errors.contains("above the 1048576-byte limit"), "\(named.errors)")
        #expect(controller.process.errorsSoFar.contains("over the message limit; answered with an error"), "\(controller.process.errorsSoFar)")
        let one = try await controller.client("status", "job-2", "--json")
        #expect(one.status == 0 && one.output.contains("job-2"), "\(one.errors)")
    }
}

@Suite("Out of file descriptors", .serialized)
struct DescriptorLimitTests {
    @Test func aControllerOutOfDescriptorsStopsListeningInsteadOfSpinningAndComesBack() async throws {
        let topology = try temporaryFile(twoSiteTopology, suffix: ".yaml")
        let controller = try await RunningController.start(topology: topology, descriptorLimit: 64)
        defer { controller.process.signal(SIGKILL) }
        let context = try Context()
        var peers: [Socket] = []
        defer {
            for peer in peers { peer.close() }
            context.terminate()
        }
        // Far more connections than 64 descriptors hold.
        for _ in 0..<120 {
            let peer = try Socket(context, type: .dealer)
            try peer.set(.linger(milliseconds: 0))
            try peer.connect(controller.clients)
            peers.append(peer)
        }
        try await waitForLog(controller, "cannot accept connections on \(controller.clients)", within: 30)
        // libzmq alone would retry the accept at full speed for as long as the shortage lasts.
        let before = controller.process.cpuSeconds
        try await Task.sleep(for: .seconds(8))
        let used = controller.process.cpuSeconds - before
        #expect(used < 3, "the controller used \(used) s of CPU in 8 s while out of descriptors")

        let resumed = "listening on \(controller.clients) again"
        let resumedSoFar = controller.process.errorsSoFar.components(separatedBy: resumed).count - 1
        for peer in peers { peer.close() }
        peers.removeAll()
        // It tries again after a back-off that has grown meanwhile, at most 30 s.
        try await waitForLog(controller, resumed, times: resumedSoFar + 1, within: 90)
        let status = try await controller.client("status", within: 60)
        #expect(status.status == 0, "\(status.errors) \(controller.process.errorsSoFar.suffix(3_000))")
        #expect(controller.process.process.isRunning)
    }

    private func waitForLog(_ controller: RunningController, _ text: String, times: Int = 1, within seconds: Double) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while controller.process.errorsSoFar.components(separatedBy: text).count - 1 < times {
            guard Date() < deadline, controller.process.process.isRunning else {
                throw ProcessWaitError(description: "no \"\(text)\" in the controller's log within \(seconds) s: \(controller.process.errorsSoFar.suffix(2_000))")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}
