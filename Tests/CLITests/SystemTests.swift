import Foundation
import Testing
import Wire
import ZeroMQ

/// A controller process on ephemeral loopback ports, and the endpoints it printed.
struct RunningController {
    let process: JunctionProcess
    let pools: String
    let clients: String
    let events: String
    /// The job store's directory.
    let state: String

    /// Starts a controller on ephemeral ports (or the given ones) with its store in `state`, a
    /// new temporary directory unless given.
    /// With `store`, a PostgreSQL URL, the controller shares that store instead (and `state` is unused).
    static func start(topology: String, extra: [String] = [], state: String? = nil, store: String? = nil, ports: (pools: String, clients: String, events: String)? = nil, descriptorLimit: Int? = nil) async throws -> RunningController {
        let state = try state ?? temporaryDirectory()
        let endpoints = ports ?? ("tcp://127.0.0.1:*", "tcp://127.0.0.1:*", "tcp://127.0.0.1:*")
        let storeOptions = store.map { ["--store", $0] } ?? ["--state", state]
        let process = try JunctionProcess(["controller", "--topology", topology, "--pools", endpoints.pools, "--clients", endpoints.clients, "--events", endpoints.events, "--heartbeat-ms", "250", "--liveness-ms", "4000"] + storeOptions + extra, descriptorLimit: descriptorLimit)
        let output = try await process.waitForOutput("events ")
        func endpoint(_ name: String) throws -> String {
            let line = try #require(output.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix(name + " ") })
            return String(line.split(separator: " ").last!)
        }
        return RunningController(process: process, pools: try endpoint("pools"), clients: try endpoint("clients"), events: try endpoint("events"), state: state)
    }

    /// Runs a client command against this controller.
    func client(_ arguments: String..., within seconds: Double = 20) async throws -> Finished {
        // Before any `--`, which would make it part of a job's command.
        try await JunctionProcess([arguments[0], "--controller", clients] + arguments.dropFirst()).finish(within: seconds)
    }

    /// Waits until `junction pools` shows every named pool up.
    func waitForPools(_ ids: [String]) async throws {
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let result = try await client("pools", "--json")
            if let rows = try? JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [[String: Any]] {
                let up = Set(rows.filter { $0["state"] as? String == "up" }.compactMap { $0["pool"] as? String })
                if Set(ids).isSubset(of: up) { return }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ProcessWaitError(description: "pools \(ids) did not come up")
    }

    func job(_ id: String) async throws -> [String: Any] {
        let result = try await client("status", id, "--json")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [[String: Any]])
        return try #require(rows.first)
    }

    /// Waits until the job reaches `state`.
    func waitForJob(_ id: String, state: String, within seconds: Double = 20) async throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(seconds)
        var last: [String: Any] = [:]
        while Date() < deadline {
            last = try await job(id)
            if last["state"] as? String == state { return last }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ProcessWaitError(description: "job \(id) did not reach \(state): \(last)")
    }
}

func temporaryDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("junction-test-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A line network with two pool sites, so a job has somewhere else to go.
let twoSiteTopology = """
name: two-sites
nodes:
  - {id: users}
  - {id: near}
  - {id: far}
links:
  - {between: [users, near], latency_ms: 1}
  - {between: [users, far], latency_ms: 20}
"""

@Suite("The system over loopback", .serialized)
struct SystemTests {
    @Test func aSubmittedJobRunsOnThePoolItWasPlacedOn() async throws {
        let work = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let topology = try temporaryFile(twoSiteTopology, suffix: ".yaml")
        let controller = try await RunningController.start(topology: topology)
        let far = try JunctionProcess(["pool", "--id", "far-pool", "--node", "far", "--pools", controller.pools, "--cpu", "8", "--memory-gib", "16", "--work-dir", work])
        let nearRegister = try JunctionProcess(["pool", "--id", "near-pool-2", "--node", "near", "--pools", controller.pools, "--cpu", "8", "--memory-gib", "16", "--work-dir", work])
        try await controller.waitForPools(["far-pool", "near-pool-2"])

        // Followed through the events endpoint: a job that runs 2 s shows its start before its end.
        let submit = try await controller.client("submit", "--from", "users", "--cpu", "2", "--wait", "--events", controller.events, "--", "/bin/sh", "-c", "sleep 2; echo ran as $JUNCTION_JOB_ID")
        #expect(submit.status == 0, "\(submit.output) \(submit.errors)")
        #expect(submit.output.contains("job-1 accepted: near-pool-2 via users → near"))
        #expect(submit.output.contains("job-1 running: started on near-pool-2"), "\(submit.output)")
        #expect(submit.output.contains("job-1 succeeded"))
        let output = try String(contentsOfFile: "\(work)/near-pool-2/job-1/stdout", encoding: .utf8)
        #expect(output == "ran as job-1\n")

        let failing = try await controller.client("submit", "--from", "users", "--cpu", "1", "--wait", "--", "/bin/sh", "-c", "echo starting; echo 'no such file: train.py' >&2; exit 3")
        #expect(failing.status == 3)
        #expect(failing.output.contains("failed"))
        // Its status says where its files are, and its message quotes the end of its stderr.
        let failed = try await controller.job("job-2")
        let folder = try #require((failed["output"] as? String)?.split(separator: ":", maxSplits: 1).last.map(String.init), "\(failed)")
        #expect(folder == "\(work)/near-pool-2/job-2" || folder == "\(work)/far-pool/job-2", "\(failed)")
        #expect(try String(contentsOfFile: folder + "/stderr", encoding: .utf8) == "no such file: train.py\n")
        let message = failed["message"] as? String ?? ""
        #expect(message.contains("exit code 3: its stderr ends \"no such file: train.py\"; all of it in "), "\(message)")
        #expect(message.hasSuffix(folder + "/stderr"), "\(message)")
        let named = try await controller.client("status", "job-2")
        #expect(named.output.contains("job-2 output: ") && named.output.contains("/job-2/stdout and stderr"), "\(named.output)")

        // Runners-up only when asked for.
        #expect(!submit.output.contains("runner-up"), "\(submit.output)")
        let compared = try await controller.client("submit", "--from", "users", "--cpu", "1", "--alternatives", "1", "--", "/bin/true")
        #expect(compared.output.contains("job-3 accepted: near-pool-2 via users → near") && compared.output.contains("  runner-up far-pool via users → far (20 ms)"), "\(compared.output) \(compared.errors)")

        // A job that starts at once is seen moving forward only, even when its `accepted` event
        // arrives after a status that already said `dispatched`.
        let order = ["accepted:", "dispatched:", "running:", "succeeded:"]
        for _ in 0..<6 {
            let quick = try await controller.client("submit", "--from", "users", "--cpu", "1", "--wait", "--events", controller.events, "--", "/bin/true")
            let steps = quick.output.split(separator: "\n").compactMap { $0.split(separator: " ").dropFirst().first.flatMap { order.firstIndex(of: String($0)) } }
            #expect(quick.status == 0 && steps.last == 3 && zip(steps, steps.dropFirst()).allSatisfy { $0 <= $1 }, "\(quick.output)")
        }

        // An executable file that is no program fails in the started child, which says why.
        let script = try temporaryFile("echo this file has no interpreter line\n", suffix: ".sh")
        chmod(script, 0o755)
        let unstartable = try await controller.client("submit", "--from", "users", "--cpu", "1", "--wait", "--", script)
        #expect(unstartable.status != 0)
        let unstarted = try await controller.job("job-10")
        #expect((unstarted["message"] as? String ?? "").contains("could not start: cannot start \(script): Exec format error"), "\(unstarted)")

        // A job's coloured stderr reaches nobody's terminal: its last line with words, plain.
        let coloured = try await controller.client("submit", "--from", "users", "--cpu", "1", "--wait", "--", "/bin/sh", "-c", "printf '\\033[31mdisk quota\\texceeded\\033[0m\\n\\033[0m\\n\\033]0;pwned\\007' >&2; exit 4")
        #expect(coloured.status == 4 && !coloured.output.contains("\u{1B}"), "\(coloured.output.debugDescription)")
        #expect(coloured.output.contains("job-11 failed on near-pool-2 with exit code 4: its stderr ends \"disk quota exceeded\""), "\(coloured.output.debugDescription)")

        for process in [far, nearRegister, controller.process] { process.signal(SIGTERM) }
        #expect(try await controller.process.finish(within: 10).status == 0, "the controller shuts down cleanly on SIGTERM")
        #expect(try await nearRegister.finish(within: 10).status == 0, "the agent shuts down cleanly on SIGTERM")
        _ = try await far.finish(within: 10)
    }

    @Test func jobsSharingAGPURunSideBySideAndAreToldWhichGPU() async throws {
        let work = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let topology = try temporaryFile(twoSiteTopology, suffix: ".yaml")
        let controller = try await RunningController.start(topology: topology)
        defer { controller.process.signal(SIGKILL) }
        let pool = try JunctionProcess(["pool", "--id", "gpu-1", "--node", "near", "--pools", controller.pools, "--cpu", "8", "--memory-gib", "16", "--gpus", "A100:1", "--work-dir", work])
        defer { pool.signal(SIGKILL) }
        try await controller.waitForPools(["gpu-1"])
        // Two halves of the one GPU run at once; a third half finds no room and is planned to
        // start when they are expected to end (an hour each, as they give no runtime).
        for _ in 0..<2 {
            let submit = try await controller.client("submit", "--from", "users", "--cpu", "1", "--gpus", "A100:1", "--gpu-share", "0.5", "--", "/bin/sh", "-c", "echo $JUNCTION_GPU_MODEL $JUNCTION_GPU_SHARED_INDEX $JUNCTION_GPU_SHARE; sleep 600")
            #expect(submit.status == 0, "\(submit.output) \(submit.errors)")
        }
        _ = try await controller.waitForJob("job-1", state: "running")
        _ = try await controller.waitForJob("job-2", state: "running")
        let third = try await controller.client("submit", "--from", "users", "--cpu", "1", "--gpus", "A100:1", "--gpu-share", "0.5", "--", "/bin/true")
        #expect(third.status == 0, "\(third.errors)")
        #expect(third.output.contains("job-3 accepted: planned on gpu-1") && third.output.contains("when room there comes free"), "\(third.output)")
        let queue = try await controller.client("queue")
        #expect(queue.output.contains("gpu-1: 1 planned") && queue.output.contains("job-3"), "\(queue.output)")
        // Its message is said counted from now, not as the seconds it was to wait when planned.
        let planned = try await controller.client("status", "job-3")
        #expect(planned.output.contains("planned on gpu-1 via users → near") && !planned.output.contains("to start in"), "\(planned.output)")
        for job in ["job-1", "job-2"] {
            _ = try await controller.client("cancel", job)
            _ = try await controller.waitForJob(job, state: "cancelled", within: 30)
            #expect(try String(contentsOfFile: "\(work)/gpu-1/\(job)/stdout", encoding: .utf8) == "A100 0 0.5\n")
        }
        // They ended long before the hour their plan counted: the plan moves up and job-3 runs.
        _ = try await controller.waitForJob("job-3", state: "succeeded", within: 30)
    }

    @Test func wholeGPUJobsAreToldTheirOwnDevicesAsNvidiaSmiNumbersThem() async throws {
        let work = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        // An nvidia-smi that lists three H100s at indices 3, 5 and 7, so the indices the jobs see
        // can only have come from it.
        let tools = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: tools) }
        try writeExecutable("#!/bin/sh\nprintf '3, NVIDIA H100 80GB HBM3\\n5, NVIDIA H100 80GB HBM3\\n7, NVIDIA H100 80GB HBM3\\n'\n", to: tools + "/nvidia-smi")
        let topology = try temporaryFile(twoSiteTopology, suffix: ".yaml")
        let controller = try await RunningController.start(topology: topology)
        defer { controller.process.signal(SIGKILL) }
        let path = tools + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        let pool = try JunctionProcess(["pool", "--id", "h100s", "--node", "near", "--pools", controller.pools, "--cpu", "8", "--memory-gib", "16", "--work-dir", work], environment: ["PATH": path])
        defer { pool.signal(SIGKILL) }
        try await controller.waitForPools(["h100s"])
        let show = "echo \"$CUDA_VISIBLE_DEVICES|$NVIDIA_VISIBLE_DEVICES|$JUNCTION_GPU_MODEL\"; sleep 5"
        for gpus in ["H100:2", "H100:1"] {
            let submit = try await controller.client("submit", "--from", "users", "--cpu", "1", "--gpus", gpus, "--", "/bin/sh", "-c", show)
            #expect(submit.status == 0, "\(submit.output) \(submit.errors)")
        }
        let cpuOnly = try await controller.client("submit", "--from", "users", "--cpu", "1", "--", "/bin/sh", "-c", show)
        #expect(cpuOnly.status == 0, "\(cpuOnly.errors)")
        var outputs: [String] = []
        for job in ["job-1", "job-2", "job-3"] {
            _ = try await controller.waitForJob(job, state: "succeeded", within: 30)
            outputs.append(try String(contentsOfFile: "\(work)/h100s/\(job)/stdout", encoding: .utf8))
        }
        #expect(outputs == ["3,5|3,5|H100\n", "7|7|H100\n", "|void|\n"], "each job sees only its own devices; a job that asked none sees none")
    }

    @Test func aDeclaredPoolKeepsItsPriceAndSpeedUnlessItsAgentStatesItsOwnAndOneWithoutAnAgentShowsNoFreeCapacity() async throws {
        let work = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let topology = try temporaryFile(twoSiteTopology + """

        pools:
          - {id: near-declared, node: near, capacity: {cpu_cores: 8, memory_gib: 16}, price: {cpu_core_hour: 0.25}, speed: 2}
          - {id: far-declared, node: far, capacity: {cpu_cores: 8, memory_gib: 16}, price: {cpu_core_hour: 0.25}, speed: 2}
          - {id: idle-declared, node: far, capacity: {cpu_cores: 8, memory_gib: 16}}
        """, suffix: ".yaml")
        let controller = try await RunningController.start(topology: topology)
        defer { controller.process.signal(SIGKILL) }
        let quiet = try JunctionProcess(["pool", "--id", "near-declared", "--pools", controller.pools, "--cpu", "8", "--memory-gib", "16", "--work-dir", work])
        defer { quiet.signal(SIGKILL) }
        let stating = try JunctionProcess(["pool", "--id", "far-declared", "--pools", controller.pools, "--cpu", "8", "--memory-gib", "16", "--price-core-hour", "0.5", "--speed", "1.5", "--work-dir", work])
        defer { stating.signal(SIGKILL) }
        try await controller.waitForPools(["near-declared", "far-declared"])
        let listed = try await controller.client("pools", "--json")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [[String: Any]])
        let byPool = Dictionary(uniqueKeysWithValues: rows.compactMap { row in (row["pool"] as? String).map { ($0, row) } })
        #expect(byPool["near-declared"]?["price_core_hour"] as? Double == 0.25, "an agent that states no price keeps the declared one: \(listed.output)")
        #expect(byPool["near-declared"]?["speed"] as? Double == 2)
        #expect(byPool["far-declared"]?["price_core_hour"] as? Double == 0.5, "an agent's own price wins")
        #expect(byPool["far-declared"]?["speed"] as? Double == 1.5)

        // No agent has joined idle-declared: its declared size is known, its free capacity is not.
        func line(_ output: String, _ pool: String) -> [Substring] {
            (output.split(separator: "\n").first { $0.hasPrefix(pool + " ") } ?? "").split(separator: " ")
        }
        let pools = try await controller.client("pools")
        #expect(pools.output.contains("declared, no agent"), "\(pools.output)")
        #expect(line(pools.output, "idle-declared").contains("-/8"), "\(pools.output)")
        #expect(line(pools.output, "near-declared").contains("8/8"), "\(pools.output)")
        let routes = try await controller.client("routes", "--from", "users")
        #expect(routes.status == 0, "\(routes.errors)")
        let idle = line(routes.output, "idle-declared"), joined = line(routes.output, "near-declared")
        #expect(idle.joined(separator: " ").contains("declared, no agent") && idle.suffix(2) == ["-", "-"], "\(routes.output)")
        #expect(joined.contains("up") && joined.suffix(2) == ["8", "-"], "\(routes.output)")
    }

    @Test func usageSumsWhatEndedJobsUsedAndCostAtTheirPoolsPrices() async throws {
        let work = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let topology = try temporaryFile(twoSiteTopology, suffix: ".yaml")
        let controller = try await RunningController.start(topology: topology)
        defer { controller.process.signal(SIGKILL) }
        // A core-hour at 3600 makes a job's cost its core-seconds.
        let pool = try JunctionProcess(["pool", "--id", "near-1", "--node", "near", "--pools", controller.pools, "--cpu", "4", "--memory-gib", "4", "--price-core-hour", "3600", "--work-dir", work])
        defer { pool.signal(SIGKILL) }
        try await controller.waitForPools(["near-1"])
        let burn = "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done"
        for _ in 0..<2 {
            let submit = try await controller.client("submit", "--from", "users", "--cpu", "1", "--memory-gib", "1", "--wait", "--", "/bin/sh", "-c", burn)
            #expect(submit.status == 0, "\(submit.errors)")
        }
        let usage = try await controller.client("usage", "--by", "pool", "--json")
        #expect(usage.status == 0, "\(usage.errors)")
        let parsed = try JSONSerialization.jsonObject(with: Data(usage.output.utf8)) as? [[String: Any]]
        let row = try #require(parsed?.first, "\(usage.output)")
        #expect(parsed?.count == 1 && row["key"] as? String == "near-1", "\(usage.output)")
        let coreHours = row["core_hours"] as? Double ?? 0
        let cost = row["cost"] as? Double ?? -1
        #expect(row["jobs"] as? Int == 2)
        let priced = abs(cost - coreHours * 3_600) < 1e-6 * max(1, cost)
        #expect(coreHours > 0 && priced, "cost is core-hours at the pool's price: \(usage.output)")
        let memory = row["memory_gib_hours"] as? Double ?? 0
        #expect(memory > 0)
        let earlier = try await controller.client("usage", "--since", "2020-01-01", "--until", "2020-01-02")
        #expect(earlier.status == 0 && earlier.output.contains("0 jobs ended in the period"), "\(earlier.output)")
        let bad = try await controller.client("usage", "--since", "yesterday")
        #expect(bad.status != 0 && bad.errors.contains("--since takes a time"), "\(bad.errors)")
    }

    @Test func aJobOnAKilledPoolCompletesElsewhere() async throws {
        let work = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let topology = try temporaryFile(twoSiteTopology, suffix: ".yaml")
        let controller = try await RunningController.start(topology: topology)
        defer { controller.process.signal(SIGKILL) }
        let near = try JunctionProcess(["pool", "--id", "near-1", "--node", "near", "--pools", controller.pools, "--cpu", "8", "--memory-gib", "16", "--work-dir", work])
        let far = try JunctionProcess(["pool", "--id", "far-1", "--node", "far", "--pools", controller.pools, "--cpu", "8", "--memory-gib", "16", "--work-dir", work])
        defer { far.signal(SIGKILL) }
        try await controller.waitForPools(["near-1", "far-1"])

        let submit = try await controller.client("submit", "--from", "users", "--cpu", "2", "--", "/bin/sh", "-c", "sleep 3; echo finished")
        #expect(submit.output.contains("job-1 accepted: near-1"))
        _ = try await controller.waitForJob("job-1", state: "running")
        near.signal(SIGKILL)
        _ = try await near.finish(within: 5)
        let done = try await controller.waitForJob("job-1", state: "succeeded", within: 20)
        #expect(done["pool"] as? String == "far-1")
        #expect(done["attempts"] as? Int == 2)
        #expect(try String(contentsOfFile: "\(work)/far-1/job-1/stdout", encoding: .utf8) == "finished\n")
    }

    @Test func cancelStopsARunningJob() async throws {
        let work = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let topology = try temporaryFile(twoSiteTopology, suffix: ".yaml")
        let controller = try await RunningController.start(topology: topology)
        defer { controller.process.signal(SIGKILL) }
        let pool = try JunctionProcess(["pool", "--id", "near-1", "--node", "near", "--pools", controller.pools, "--cpu", "8", "--memory-gib", "16", "--work-dir", work])
        defer { pool.signal(SIGKILL) }
        try await controller.waitForPools(["near-1"])
        let submit = try await controller.client("submit", "--from", "users", "--cpu", "1", "--", "/bin/sleep", "60")
        #expect(submit.output.contains("no completion estimate without --runtime-s"), "\(submit.output)")
        _ = try await controller.waitForJob("job-1", state: "running")
        let running = try await controller.job("job-1")
        #expect(running["state"] as? String == "running")
        let holding = try await controller.client("pools", "--json")
        #expect(holding.output.contains("\"cpu_held\" : 1"), "the running job's lease holds its core: \(holding.output)")
        let cancel = try await controller.client("cancel", "job-1")
        #expect(cancel.status == 0, "\(cancel.errors)")
        #expect(cancel.output.contains("job-1: running on near-1; asked the pool to stop it"), "\(cancel.output)")
        let cancelled = try await controller.waitForJob("job-1", state: "cancelled", within: 15)
        // SIGTERM ends it: the 10 s grace before SIGKILL is not needed.
        #expect((cancelled["wall_s"] as? Double ?? 60) < 8)
        let pools = try await controller.client("pools", "--json")
        #expect(pools.output.contains("\"cpu_reserved\" : 0"))
        #expect(pools.output.contains("\"cpu_held\" : 0"), "\(pools.output)")

        // A job that already ended is not cancelled, and the command says so.
        _ = try await controller.client("submit", "--from", "users", "--cpu", "1", "--", "/bin/true")
        _ = try await controller.waitForJob("job-2", state: "succeeded")
        let late = try await controller.client("cancel", "job-2")
        #expect(late.status != 0)
        #expect(late.errors.contains("job-2 had already succeeded on near-1; nothing to cancel"), "\(late.errors)")
        let unknown = try await controller.client("cancel", "job-99")
        #expect(unknown.status != 0 && unknown.errors.contains("job-99"), "\(unknown.errors)")
    }

    @Test func aDaemonSignalledAsSoonAsItPrintsWhatItServesStopsGracefully() async throws {
        let topology = try temporaryFile(twoSiteTopology, suffix: ".yaml")
        // Five of each: before, the banner came before the signal handling and about half of
        // such stops were deaths by SIGTERM.
        for _ in 0..<5 {
            let controller = try await RunningController.start(topology: topology)
            controller.process.signal(SIGTERM)
            let stopped = try await controller.process.finish(within: 20)
            #expect(stopped.status == 0, "\(stopped.errors)")
            try? FileManager.default.removeItem(atPath: controller.state)
        }
        let work = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        for _ in 0..<5 {
            let pool = try JunctionProcess(["pool", "--id", "near-1", "--node", "near", "--pools", "tcp://127.0.0.1:9", "--cpu", "1", "--memory-gib", "1", "--work-dir", work])
            _ = try await pool.waitForOutput("pool near-1")
            pool.signal(SIGTERM)
            let stopped = try await pool.finish(within: 20)
            #expect(stopped.status == 0, "\(stopped.errors)")
        }
    }

    @Test func badInputLeavesTheControllerServing() async throws {
        let topology = try temporaryFile(twoSiteTopology, suffix: ".yaml")
        let controller = try await RunningController.start(topology: topology)
        defer { controller.process.signal(SIGKILL) }
        let context = try Context()
        defer { context.terminate() }
        var generator = SystemRandomNumberGenerator()
        for endpoint in [controller.pools, controller.clients] {
            let raw = try SocketLoop(context: context, sockets: [SocketSpec(.dealer, connect: [endpoint], lingerMilliseconds: 0)])
            for _ in 0..<300 {
                let frames = (0..<Int.random(in: 1...3, using: &generator)).map { _ in
                    (0..<Int.random(in: 0...64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                }
                raw.send(Message(frames))
            }
            // A message larger than the limit: libzmq drops the connection that sent it.
            raw.send(Message([UInt8](repeating: 7, count: 2 << 20)))
            raw.shutdown()
        }
        // Another protocol version gets an error reply with the same correlation id.
        let probe = try SocketLoop(context: context, sockets: [SocketSpec(.dealer, connect: [controller.clients], lingerMilliseconds: 0)])
        defer { probe.shutdown() }
        var envelope = Junction_V1_Envelope()
        envelope.protocolVersion = 2
        envelope.correlationID = 77
        envelope.pools = Junction_V1_PoolsRequest()
        probe.send(Message([try envelope.serializedBytes()]))
        let reply = try await withThrowingTaskGroup(of: Message?.self) { group in
            group.addTask { await probe.incoming.next()?.first?.message }
            group.addTask {
                try await Task.sleep(for: .seconds(5))
                return nil
            }
            defer { group.cancelAll() }
            return try await group.next() ?? nil
        }
        let answer = try WireMessage(bytes: try #require(reply?.frames.last))
        #expect(answer.correlationID == 77)
        guard case .error(let error) = answer.body else {
            Issue.record("expected an error, got \(answer.kind)")
            return
        }
        #expect(error.code == .unsupportedVersion)

        let status = try await controller.client("status")
        #expect(status.status == 0, "the controller still serves: \(status.errors)")
        #expect(controller.process.process.isRunning)
    }

    @Test func aBrokenTopologyOnReloadChangesNothing() async throws {
        let topology = try temporaryFile(twoSiteTopology, suffix: ".yaml")
        let controller = try await RunningController.start(topology: topology)
        defer { controller.process.signal(SIGKILL) }
        try "name: broken\nnodes: [\n".write(toFile: topology, atomically: true, encoding: .utf8)
        controller.process.signal(SIGHUP)
        try await Task.sleep(for: .milliseconds(300))
        let place = try await controller.client("place", "--from", "users", "--cpu", "1")
        #expect(!place.errors.contains("is not a node"), "still the old network, where users is a node")
        #expect(place.errors.contains("no pool can take this request"))
        #expect(controller.process.process.isRunning)
        #expect(controller.process.errorsSoFar.contains("rejected"))
    }

    @Test func watchFollowsEventsAfterASnapshotAndRoutesComeFromTheController() async throws {
        let work = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let topology = try temporaryFile(twoSiteTopology, suffix: ".yaml")
        let controller = try await RunningController.start(topology: topology)
        defer { controller.process.signal(SIGKILL) }
        let pool = try JunctionProcess(["pool", "--id", "near-1", "--node", "near", "--pools", controller.pools, "--cpu", "4", "--memory-gib", "8", "--work-dir", work])
        defer { pool.signal(SIGKILL) }
        try await controller.waitForPools(["near-1"])

        let routes = try await controller.client("routes", "--from", "users", "--json")
        #expect(routes.status == 0, "\(routes.errors)")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(routes.output.utf8)) as? [[String: Any]])
        #expect(rows.first?["pool"] as? String == "near-1")
        #expect(rows.first?["path"] as? [String] == ["users", "near"])

        let watch = try JunctionProcess(["watch", "--events", controller.events, "--controller", controller.clients, "--topic", "job/", "--count", "4", "--json"])
        // Let it subscribe and take its snapshot before the job exists.
        try await Task.sleep(for: .milliseconds(800))
        _ = try await controller.client("submit", "--from", "users", "--cpu", "1", "--", "/bin/true")
        let watched = try await watch.finish(within: 15)
        #expect(watched.status == 0, "\(watched.errors)")
        let states = watched.output.split(separator: "\n").compactMap { line -> String? in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["state"] as? String
        }
        #expect(states == ["accepted", "dispatched", "running", "succeeded"])
    }

    @Test func anUnreachableControllerIsReportedWithinTheTimeout() async throws {
        let started = Date()
        let result = try await junction("status", "--controller", "tcp://127.0.0.1:9", "--timeout", "1")
        #expect(result.status != 0)
        #expect(result.errors.contains("no answer from the controller"))
        #expect(Date().timeIntervalSince(started) < 10)
    }

    @Test func eachEndpointHasOneNameAndTheEnvironmentFillsIt() async throws {
        // Client commands take the clients endpoint from JUNCTION_CONTROLLER when not given.
        let client = try await JunctionProcess(["status", "--timeout", "1"], environment: ["JUNCTION_CONTROLLER": "127.0.0.1:7411"]).finish(within: 30)
        #expect(client.status != 0)
        #expect(client.errors.contains("$JUNCTION_CONTROLLER") && client.errors.contains("tcp://"), "\(client.errors)")
        // An agent names the controller's pools endpoint --pools, or takes JUNCTION_POOLS.
        let agent = try await JunctionProcess(["pool", "--id", "p1", "--cpu", "1", "--memory-gib", "1"], environment: ["JUNCTION_POOLS": "localhost:7410"]).finish(within: 30)
        #expect(agent.status != 0)
        #expect(agent.errors.contains("$JUNCTION_POOLS") && agent.errors.contains("tcp://"), "\(agent.errors)")
        let both = try await junction("pool", "--id", "p1", "--pools", "tcp://127.0.0.1:9", "--controller", "tcp://127.0.0.1:9")
        #expect(both.status != 0 && both.errors.contains("once, with --pools"), "\(both.errors)")
        // Its former name still works, and says what the name is now.
        let work = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let former = try JunctionProcess(["pool", "--id", "p1", "--node", "n", "--controller", "tcp://127.0.0.1:9", "--cpu", "1", "--memory-gib", "1", "--work-dir", work])
        let deadline = Date().addingTimeInterval(20)
        while !former.errorsSoFar.contains("is now --pools"), Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(former.errorsSoFar.contains("junction pool --controller is now --pools"), "\(former.errorsSoFar)")
        former.signal(SIGTERM)
        _ = try await former.finish(within: 20)
    }

    @Test func theDemoRunsAndCleansUp() async throws {
        let result = try await junction("demo", within: 90)
        #expect(result.status == 0, "\(result.output)\n\(result.errors)")
        #expect(result.output.contains("4 of 4 submitted jobs succeeded"))
        #expect(result.output.contains("all services stopped"))
    }

    @Test func theEmbeddedDemoNetworkIsTheShippedFile() throws {
        let shipped = try String(contentsOf: topologies.appendingPathComponent("abilene.yaml"), encoding: .utf8)
        let source = try String(contentsOf: topologies.deletingLastPathComponent().appendingPathComponent("Sources/junction-full/EmbeddedTopology.swift"), encoding: .utf8)
        #expect(source.contains(shipped))
    }
}

/// Writes a script through a close-on-exec descriptor. A process another test spawns while the
/// file is open for writing would otherwise inherit the descriptor, and running the script
/// would then fail with "text file busy" for as long as that process lives.
private func writeExecutable(_ text: String, to path: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
    guard fd >= 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]) }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    guard write(fd, bytes, bytes.count) == bytes.count else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]) }
}
