import Foundation
import Testing
import TestSupport

/// Whether a process exists and is not a zombie.
func isAlive(_ pid: pid_t) -> Bool {
    guard kill(pid, 0) == 0 else { return false }
    let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
    guard let close = stat.lastIndex(of: ")") else { return false }
    return !stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
}

/// Waits until `condition` holds, or fails with `what` after `seconds`.
func waitUntil(_ what: String, within seconds: Double = 20, _ condition: () throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw ProcessWaitError(description: "\(what) did not happen within \(seconds) s")
}

/// How many times each job id appears in a log its jobs append to.
func runCounts(_ path: String) -> [String: Int] {
    let lines = ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    return Dictionary(lines.map { ($0, 1) }, uniquingKeysWith: +)
}

/// Reads a pid a job wrote to a file, once the file holds one.
func readPID(_ path: String) async throws -> pid_t {
    var pid: pid_t = 0
    try await waitUntil("a pid in \(path)") {
        pid = pid_t(((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        return pid > 0
    }
    return pid
}

@Suite("Durability with real processes", .serialized)
struct DurabilityTests {
    @Test func everyAcknowledgedJobRunsOnceAcrossControllerKills() async throws {
        let work = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let runs = "\(work)/runs.log"
        let topology = try temporaryFile(twoSiteTopology, suffix: ".yaml")
        var controller = try await RunningController.start(topology: topology)
        let ports = (controller.pools, controller.clients, controller.events)
        defer { controller.process.signal(SIGKILL) }
        let pool = try JunctionProcess(["pool", "--id", "near-1", "--node", "near", "--pools", controller.pools, "--cpu", "64", "--memory-gib", "64", "--work-dir", "\(work)/pool"])
        defer { pool.signal(SIGKILL) }
        try await controller.waitForPools(["near-1"])

        var acknowledged: [String] = []
        for round in 0..<3 {
            for _ in 0..<4 {
                // Each run appends its job id: a job that ran twice shows up twice.
                let submit = try await controller.client("submit", "--from", "users", "--cpu", "1", "--", "/bin/sh", "-c", "echo $JUNCTION_JOB_ID >> \(runs); sleep 2")
                let id = submit.output.split(separator: " ").first.map(String.init) ?? ""
                #expect(submit.status == 0 && id.hasPrefix("job-"), "round \(round): \(submit.output) \(submit.errors)")
                acknowledged.append(id)
            }
            // One more in flight as the controller dies: acknowledged or not, it must not run twice.
            let inFlight = try JunctionProcess(["submit", "--controller", controller.clients, "--timeout", "3", "--from", "users", "--cpu", "1", "--", "/bin/sh", "-c", "echo $JUNCTION_JOB_ID >> \(runs)"])
            controller.process.signal(SIGKILL)
            _ = try await controller.process.finish(within: 10)
            let late = try await inFlight.finish(within: 20)
            if late.status == 0, let id = late.output.split(separator: " ").first { acknowledged.append(String(id)) }
            controller = try await RunningController.start(topology: topology, state: controller.state, ports: ports)
            try await controller.waitForPools(["near-1"])
        }
        #expect(Set(acknowledged).count == acknowledged.count, "no job id is handed out twice: \(acknowledged)")
        for id in acknowledged {
            let done = try await controller.waitForJob(id, state: "succeeded", within: 60)
            #expect(done["attempts"] as? Int == 1, "\(id) kept its first run: \(done)")
        }
        let counts = runCounts(runs)
        #expect(counts.filter { $0.value > 1 }.isEmpty, "jobs that ran twice: \(counts.filter { $0.value > 1 })")
        for id in acknowledged { #expect(counts[id] == 1, "\(id) ran \(counts[id] ?? 0) times") }
        controller.process.signal(SIGTERM)
        #expect(try await controller.process.finish(within: 10).status == 0)
    }

    @Test func aKilledAgentLeavesNoJobRunning() async throws {
        let work = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let topology = try temporaryFile(twoSiteTopology, suffix: ".yaml")
        let controller = try await RunningController.start(topology: topology)
        defer { controller.process.signal(SIGKILL) }
        let agent = try JunctionProcess(["pool", "--id", "near-1", "--node", "near", "--pools", controller.pools, "--cpu", "8", "--memory-gib", "8", "--work-dir", work])
        defer { agent.signal(SIGKILL) }
        try await controller.waitForPools(["near-1"])
        // The job's shell, and a child of it that a parent-death signal does not reach.
        let submit = try await controller.client("submit", "--from", "users", "--cpu", "1", "--", "/bin/sh", "-c", "echo $$ > \(work)/shell; sleep 300 & echo $! > \(work)/child; wait")
        #expect(submit.status == 0, "\(submit.errors)")
        let shell = try await readPID("\(work)/shell")
        let child = try await readPID("\(work)/child")
        agent.signal(SIGKILL)
        _ = try await agent.finish(within: 10)
        try await waitUntil("the job's own process ends with its agent") { !isAlive(shell) }

        // The agent's next start on the same work directory stops what is left of the job.
        let again = try JunctionProcess(["pool", "--id", "near-1", "--node", "near", "--pools", controller.pools, "--cpu", "8", "--memory-gib", "8", "--work-dir", work])
        defer { again.signal(SIGKILL) }
        try await waitUntil("the job's left-over child ends when the agent starts again") { !isAlive(child) }
        again.signal(SIGTERM)
        _ = try await again.finish(within: 15)
    }

    @Test func anAgentBackAfterSIGSTOPHasItsOldRunStoppedAndOneOutcomeCounts() async throws {
        let work = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let topology = try temporaryFile(twoSiteTopology, suffix: ".yaml")
        let controller = try await RunningController.start(topology: topology)
        defer { controller.process.signal(SIGKILL) }
        let near = try JunctionProcess(["pool", "--id", "near-1", "--node", "near", "--pools", controller.pools, "--cpu", "8", "--memory-gib", "8", "--work-dir", work])
        defer { near.signal(SIGKILL) }
        try await controller.waitForPools(["near-1"])
        let submit = try await controller.client("submit", "--from", "users", "--cpu", "1", "--", "/bin/sh", "-c", "echo $$ > $JUNCTION_JOB_ID.pid; sleep 8")
        #expect(submit.status == 0, "\(submit.errors)")
        _ = try await controller.waitForJob("job-1", state: "running")
        let first = try await readPID("\(work)/near-1/job-1/job-1.pid")
        let far = try JunctionProcess(["pool", "--id", "far-1", "--node", "far", "--pools", controller.pools, "--cpu", "8", "--memory-gib", "8", "--work-dir", work])
        defer { far.signal(SIGKILL) }
        try await controller.waitForPools(["far-1"])
        near.signal(SIGSTOP)
        try await waitUntil("the job runs again on far-1") {
            FileManager.default.fileExists(atPath: "\(work)/far-1/job-1/job-1.pid")
        }
        near.signal(SIGCONT)
        // Told on registering again that the job is elsewhere, the old pool stops its run.
        try await waitUntil("the old run is stopped") { !isAlive(first) }
        let done = try await controller.waitForJob("job-1", state: "succeeded", within: 30)
        #expect(done["pool"] as? String == "far-1")
        #expect(done["attempts"] as? Int == 2)
    }

    @Test func anAgentStoppedWithSIGTERMSaysGoodbyeAndItsJobMovesAtOnce() async throws {
        let work = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let topology = try temporaryFile(twoSiteTopology, suffix: ".yaml")
        // A liveness window of a minute: only a goodbye can make the controller move the job soon.
        let controller = try await RunningController.start(topology: topology, extra: ["--liveness-ms", "60000"])
        defer { controller.process.signal(SIGKILL) }
        let near = try JunctionProcess(["pool", "--id", "near-1", "--node", "near", "--pools", controller.pools, "--cpu", "8", "--memory-gib", "8", "--work-dir", work])
        defer { near.signal(SIGKILL) }
        try await controller.waitForPools(["near-1"])
        let far = try JunctionProcess(["pool", "--id", "far-1", "--node", "far", "--pools", controller.pools, "--cpu", "8", "--memory-gib", "8", "--work-dir", work])
        defer { far.signal(SIGKILL) }
        try await controller.waitForPools(["far-1"])
        let submit = try await controller.client("submit", "--from", "users", "--cpu", "1", "--", "/bin/sh", "-c", "sleep 3")
        #expect(submit.output.contains("near-1"), "\(submit.output)")
        _ = try await controller.waitForJob("job-1", state: "running")
        near.signal(SIGTERM)
        #expect(try await near.finish(within: 20).status == 0)
        let done = try await controller.waitForJob("job-1", state: "succeeded", within: 30)
        #expect(done["pool"] as? String == "far-1")
    }

    @Test func aSubmitAcceptedToWaitAndARepeatedKeySayWhereTheJobIs() async throws {
        let topology = try temporaryFile(twoSiteTopology, suffix: ".yaml")
        let first = try await RunningController.start(topology: topology)
        first.process.signal(SIGTERM)
        let stopped = try await first.process.finish(within: 10)
        #expect(stopped.status == 0, "\(stopped.errors)")
        // Restarted with a liveness window of a minute: for a minute and more, a submit that fits
        // nowhere is accepted to wait for the pools rejoining, not refused.
        let controller = try await RunningController.start(topology: topology, extra: ["--liveness-ms", "60000"], state: first.state)
        defer { controller.process.signal(SIGKILL) }

        let waiting = try await controller.client("submit", "--from", "users", "--cpu", "1", "--", "/bin/true")
        #expect(waiting.status == 0 && waiting.output.hasPrefix("job-1 accepted: waiting: no pool is registered"), "[\(waiting.output)] \(waiting.errors)")
        // The listing, answered from the store, agrees with memory on the latest reason.
        let listing = try await controller.client("status", "--json")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(listing.output.utf8)) as? [[String: Any]])
        let message = rows.first?["message"] as? String
        #expect(message?.hasPrefix("waiting: no pool is registered") == true, "\(rows)")

        let keyed = try await controller.client("submit", "--from", "users", "--cpu", "1", "--idempotency-key", "nightly-7", "--", "/bin/true")
        #expect(keyed.output.hasPrefix("job-2 accepted: waiting"), "\(keyed.output) \(keyed.errors)")
        let repeated = try await controller.client("submit", "--from", "users", "--cpu", "1", "--idempotency-key", "nightly-7", "--", "/bin/true")
        #expect(repeated.status == 0 && repeated.output.hasPrefix("job-2 was submitted before under this idempotency key: job-2 accepted: waiting"), "\(repeated.output) \(repeated.errors)")
        let repeatedJSON = try await controller.client("submit", "--from", "users", "--cpu", "1", "--idempotency-key", "nightly-7", "--json", "--", "/bin/true")
        #expect(repeatedJSON.output.contains("\"job\" : \"job-2\""), "\(repeatedJSON.output)")
        let empty = try await controller.client("submit", "--from", "users", "--idempotency-key", "", "--", "/bin/true")
        #expect(empty.status != 0 && empty.errors.contains("--idempotency-key must be 1 to 256 bytes, not 0"), "\(empty.errors)")
        let statuses = try await controller.client("status", "--json")
        #expect((try JSONSerialization.jsonObject(with: Data(statuses.output.utf8)) as? [[String: Any]])?.count == 2, "two jobs, not four: \(statuses.output)")
    }

    /// The near pool's disk fills up (then it cannot even record a job's process) or turns
    /// read-only (then it cannot make a job's folder). The C advertiser writes no record, so a
    /// full disk fails its jobs as they run, which only the job can tell: it is tried read-only.
    @Test(arguments: [("swift", "full"), ("swift", "read-only"), ("c", "read-only")])
    func aJobItsPoolCannotStartForWantOfDiskRunsOnAnotherPool(agent: String, fault: String) async throws {
        let disk = try SmallDisk.mount(kibibytes: 64)
        defer { disk.remove() }
        let work = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let topology = try temporaryFile(twoSiteTopology, suffix: ".yaml")
        let controller = try await RunningController.start(topology: topology)
        defer { controller.process.signal(SIGKILL) }
        let nearOptions = ["--id", "near-1", "--node", "near", "--pools", controller.pools, "--cpu", "8", "--memory-gib", "8", "--work-dir", disk.directory]
        let near = agent == "c"
            ? try JunctionProcess(nearOptions, program: URL(fileURLWithPath: try CAdvertiser.build(into: work)))
            : try JunctionProcess(["pool"] + nearOptions)
        defer { near.signal(SIGKILL) }
        let far = try JunctionProcess(["pool", "--id", "far-1", "--node", "far", "--pools", controller.pools, "--cpu", "8", "--memory-gib", "8", "--work-dir", work])
        defer { far.signal(SIGKILL) }
        try await controller.waitForPools(["near-1", "far-1"])
        if fault == "full" {
            let filler = open(disk.directory + "/filler", O_WRONLY | O_CREAT, 0o644)
            let block = [UInt8](repeating: 0, count: 4_096)
            while write(filler, block, block.count) > 0 {}
            #expect(errno == ENOSPC)
            close(filler)
        } else {
            try disk.makeReadOnly()
        }
        let submit = try await controller.client("submit", "--from", "users", "--cpu", "1", "--wait", "--", "/bin/echo", "ran")
        #expect(submit.status == 0, "\(submit.output) \(submit.errors)")
        #expect(submit.output.contains("job-1 accepted: near-1 via users → near"), "\(submit.output)")
        let done = try await controller.waitForJob("job-1", state: "succeeded")
        #expect(done["pool"] as? String == "far-1" && done["attempts"] as? Int == 2, "\(done)")
        #expect(try String(contentsOfFile: "\(work)/far-1/job-1/stdout", encoding: .utf8) == "ran\n")
    }
}
