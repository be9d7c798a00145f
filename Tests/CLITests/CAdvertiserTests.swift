import Foundation
import TestSupport
import Testing

/// The C pool agent against the Swift controller, over loopback.
@Suite("The C advertiser", .serialized)
struct CAdvertiserTests {
    /// Builds the advertiser once per test into `work`.
    private func advertiser(in work: String) throws -> URL {
        URL(fileURLWithPath: try CAdvertiser.build(into: work))
    }

    @Test func itRegistersRunsJobsReportsTheirEndsAndIsStoppedByCancel() async throws {
        let work = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let program = try advertiser(in: work)
        let topology = try temporaryFile(twoSiteTopology, suffix: ".yaml")
        let controller = try await RunningController.start(topology: topology)
        defer { controller.process.signal(SIGKILL) }
        let agent = try JunctionProcess(["--id", "c-pool", "--node", "near", "--pools", controller.pools, "--cpu", "4", "--memory-gib", "8", "--gpus", "A100:2", "--label", "tier=edge", "--work-dir", work + "/jobs"], program: program)
        defer { agent.signal(SIGKILL) }
        #expect(try await agent.waitForOutput("pool c-pool: 4 cores, 8 GiB, GPUs 2×A100").contains("controller \(controller.pools)"))
        try await controller.waitForPools(["c-pool"])
        let pools = try await controller.client("pools", "--json")
        let row = try #require((try JSONSerialization.jsonObject(with: Data(pools.output.utf8)) as? [[String: Any]])?.first { $0["pool"] as? String == "c-pool" })
        #expect(row["cpu_total"] as? Double == 4 && row["gpus_free"] as? [String: Int] == ["A100": 2], "\(row)")

        // A GPU job gets its own device; its output and exit are reported.
        let submit = try await controller.client("submit", "--from", "users", "--cpu", "1", "--gpus", "A100:1", "--wait", "--", "/bin/sh", "-c", "echo ran as $JUNCTION_JOB_ID on $CUDA_VISIBLE_DEVICES $JUNCTION_GPU_MODEL")
        #expect(submit.status == 0, "\(submit.output) \(submit.errors)")
        #expect(submit.output.contains("job-1 succeeded: finished on c-pool with exit code 0"), "\(submit.output)")
        #expect(try String(contentsOfFile: "\(work)/jobs/c-pool/job-1/stdout", encoding: .utf8) == "ran as job-1 on 0 A100\n")
        let succeeded = try await controller.job("job-1")
        #expect((succeeded["output"] as? String ?? "").hasSuffix(":\(work)/jobs/c-pool/job-1"), "\(succeeded)")

        let failing = try await controller.client("submit", "--from", "users", "--cpu", "1", "--wait", "--", "/bin/sh", "-c", "echo 'no such file: data.csv' >&2; exit 3")
        #expect(failing.status == 3, "\(failing.output) \(failing.errors)")
        let failed = try await controller.job("job-2")
        #expect((failed["message"] as? String ?? "").contains("exit code 3: its stderr ends \"no such file: data.csv\"; all of it in "), "\(failed)")

        let missing = try await controller.client("submit", "--from", "users", "--cpu", "1", "--wait", "--", "/no/such/program")
        #expect(missing.status != 0)
        let unstarted = try await controller.job("job-3")
        #expect((unstarted["message"] as? String ?? "").contains("could not start: cannot start /no/such/program: No such file or directory"), "\(unstarted)")

        // More than it has is refused by the controller; a cancel reaches the job with SIGTERM.
        let tooLarge = try await controller.client("submit", "--from", "users", "--cpu", "16", "--", "/bin/true")
        #expect(tooLarge.status != 0 && tooLarge.errors.contains("c-pool: 4 of 4 cores free after leases, 16 asked"), "\(tooLarge.errors)")
        _ = try await controller.client("submit", "--from", "users", "--cpu", "1", "--", "/bin/sh", "-c", "trap 'echo stopping; exit 9' TERM; sleep 120 & wait")
        _ = try await controller.waitForJob("job-4", state: "running")
        let cancel = try await controller.client("cancel", "job-4")
        #expect(cancel.status == 0, "\(cancel.errors)")
        let cancelled = try await controller.waitForJob("job-4", state: "cancelled", within: 30)
        #expect((cancelled["wall_s"] as? Double ?? 120) < 60)
        #expect(try String(contentsOfFile: "\(work)/jobs/c-pool/job-4/stdout", encoding: .utf8) == "stopping\n")
        let usage = try await controller.client("usage", "--by", "pool", "--json")
        #expect(usage.status == 0 && usage.output.contains("c-pool"), "ended jobs are charged: \(usage.output) \(usage.errors)")

        // SIGTERM: jobs stopped, goodbye said, the pool down at once.
        _ = try await controller.client("submit", "--from", "users", "--cpu", "1", "--", "/bin/sleep", "120")
        _ = try await controller.waitForJob("job-5", state: "running")
        agent.signal(SIGTERM)
        let stopped = try await agent.finish(within: 20)
        #expect(stopped.status == 0, "\(stopped.errors)")
        #expect(stopped.errors.contains("said goodbye"), "\(stopped.errors)")
        #expect(controller.process.errorsSoFar.contains("pool said goodbye"), "\(controller.process.errorsSoFar.suffix(2_000))")
    }

    @Test func itRegistersAgainWithItsJobWhenTheControllerRestartsAndRunsItOnce() async throws {
        let work = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let program = try advertiser(in: work)
        let topology = try temporaryFile(twoSiteTopology, suffix: ".yaml")
        let first = try await RunningController.start(topology: topology)
        let agent = try JunctionProcess(["--id", "c-pool", "--node", "near", "--pools", first.pools, "--cpu", "2", "--memory-gib", "2", "--work-dir", work + "/jobs"], program: program)
        defer { agent.signal(SIGKILL) }
        try await first.waitForPools(["c-pool"])
        _ = try await first.client("submit", "--from", "users", "--cpu", "1", "--", "/bin/sh", "-c", "sleep 6; echo once >> \(work)/runs")
        _ = try await first.waitForJob("job-1", state: "running")
        first.process.signal(SIGKILL)
        _ = try await first.process.finish(within: 10)
        // The same endpoints and store: the agent comes back by itself, its job still running.
        let second = try await RunningController.start(topology: topology, state: first.state, ports: (first.pools, first.clients, first.events))
        defer { second.process.signal(SIGKILL) }
        let done = try await second.waitForJob("job-1", state: "succeeded", within: 60)
        #expect(done["attempts"] as? Int == 1, "\(done)")
        #expect(try String(contentsOfFile: "\(work)/runs", encoding: .utf8) == "once\n")
        #expect(agent.errorsSoFar.contains("registering pool c-pool with \(first.pools) (1 jobs running)"), "\(agent.errorsSoFar)")
    }

    @Test func itRunsCurveWithAKeyTheControllerAllowsAndStopsWhenRefused() async throws {
        let ring = try await KeyRing()
        let work = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let program = try advertiser(in: work)
        let topology = try temporaryFile(twoSiteTopology, suffix: ".yaml")
        let controller = try await RunningController.start(topology: topology, extra: ["--access", ring.access])
        defer { controller.process.signal(SIGKILL) }
        let agent = try JunctionProcess(["--id", "near-1", "--node", "near", "--pools", controller.pools, "--cpu", "2", "--memory-gib", "2", "--work-dir", work + "/jobs"] + ring.keys("near-agent"), program: program)
        defer { agent.signal(SIGKILL) }
        let deadline = Date().addingTimeInterval(30)
        while !agent.errorsSoFar.contains("registered pool near-1"), agent.process.isRunning, Date() < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(agent.errorsSoFar.contains("registered pool near-1"), "\(agent.errorsSoFar)")
        let submit = try await JunctionProcess(["submit", "--controller", controller.clients] + ring.keys("alice") + ["--from", "users", "--cpu", "1", "--wait", "--", "/bin/echo", "over curve"]).finish(within: 60)
        #expect(submit.status == 0 && submit.output.contains("succeeded"), "\(submit.output) \(submit.errors)")
        #expect(try String(contentsOfFile: "\(work)/jobs/near-1/job-1/stdout", encoding: .utf8) == "over curve\n")
        // A key bound to other pools is refused, and the agent stops saying why.
        let impostor = try await JunctionProcess(["--id", "near-2", "--node", "near", "--pools", controller.pools, "--work-dir", work + "/jobs"] + ring.keys("near-agent"), program: program).finish(within: 30)
        #expect(impostor.status == 1)
        #expect(impostor.errors.contains("the controller refuses pool near-2"), "\(impostor.errors)")
    }
}
