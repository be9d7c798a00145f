import Foundation
import TestSupport
import Testing

/// Controllers sharing one PostgreSQL store, reached as agents and clients reach them: by the
/// list of all their endpoints.
private struct SharedControllers {
    var controllers: [RunningController]
    let names: [String]
    let topology: String
    let store: String
    let extra: [String]

    /// Starts one controller per name, in order, so the first leads.
    static func start(_ names: [String], topology: String, store: String, extra: [String] = ["--lease-ms", "2000"]) async throws -> SharedControllers {
        var started: [RunningController] = []
        for name in names {
            started.append(try await RunningController.start(topology: topology, extra: extra + ["--name", name], store: store))
            if started.count == 1 { try await waitUntilLeading(started[0]) }
        }
        return SharedControllers(controllers: started, names: names, topology: topology, store: store, extra: extra)
    }

    var clients: String { controllers.map(\.clients).joined(separator: ",") }
    var pools: String { controllers.map(\.pools).joined(separator: ",") }

    /// Runs a client command against all of them.
    func client(_ arguments: String..., within seconds: Double = 60) async throws -> Finished {
        try await JunctionProcess([arguments[0], "--controller", clients] + arguments.dropFirst()).finish(within: seconds)
    }

    /// Which one leads now: the one that answers a request of its own (a standby says NOT_LEADER).
    func leader() async throws -> Int? {
        for (index, controller) in controllers.enumerated() where controller.process.process.isRunning {
            if try await controller.client("pools", "--timeout", "3").status == 0 { return index }
        }
        return nil
    }

    /// Waits until one leads, and says which.
    func waitForLeader(within seconds: Double = 30) async throws -> Int {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let index = try await leader() { return index }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw ProcessWaitError(description: "no controller took the lead within \(seconds) s")
    }

    /// Starts controller `index` again on its endpoints, as a standby.
    mutating func restart(_ index: Int) async throws {
        let old = controllers[index]
        controllers[index] = try await RunningController.start(
            topology: topology, extra: extra + ["--name", names[index]], store: store, ports: (old.pools, old.clients, old.events)
        )
    }

    /// Waits until `junction pools` shows every named pool up at the leader.
    func waitForPools(_ ids: [String], within seconds: Double = 60) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let result = try await client("pools", "--json")
            if let rows = try? JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [[String: Any]],
               Set(ids).isSubset(of: Set(rows.filter { $0["state"] as? String == "up" }.compactMap { $0["pool"] as? String })) {
                return
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw ProcessWaitError(description: "pools \(ids) did not come up at the leader")
    }

    /// Waits until the leader reports the job in `state`.
    func waitForJob(_ id: String, state: String, within seconds: Double = 90) async throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(seconds)
        var last: [String: Any] = [:]
        while Date() < deadline {
            let result = try await client("status", id, "--json")
            if let rows = try? JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [[String: Any]], let row = rows.first {
                last = row
                if row["state"] as? String == state { return row }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw ProcessWaitError(description: "job \(id) did not reach \(state): \(last)")
    }

    func killAll() {
        for controller in controllers { controller.process.signal(SIGKILL) }
    }
}

/// A PostgreSQL server, controllers a and b sharing it (a leads), and pool near-1 up at the
/// leader, with a work folder whose `runs` log the tests' jobs append to. `stop` ends all of it.
private final class Cluster {
    let database: PostgresServer
    let work: String
    var shared: SharedControllers
    let pool: JunctionProcess
    var runs: String { "\(work)/runs.log" }

    init(cores: Int, extra: [String] = ["--lease-ms", "2000"]) async throws {
        database = try PostgresServer.start()
        work = try temporaryDirectory()
        let topology = try temporaryFile(twoSiteTopology, suffix: ".yaml")
        shared = try await SharedControllers.start(["a", "b"], topology: topology, store: database.url, extra: extra)
        pool = try JunctionProcess(["pool", "--id", "near-1", "--node", "near", "--pools", shared.pools, "--cpu", "\(cores)", "--memory-gib", "\(cores)", "--work-dir", "\(work)/pool"])
        try await shared.waitForPools(["near-1"])
    }

    func stop() {
        pool.signal(SIGKILL)
        shared.killAll()
        try? FileManager.default.removeItem(atPath: work)
        database.stop()
    }
}

/// Waits until a controller's log says it leads.
private func waitUntilLeading(_ controller: RunningController, within seconds: Double = 30) async throws {
    try await waitUntil("\(controller.clients) leading", within: seconds) { controller.process.errorsSoFar.contains("leading") }
}

@Suite("Controllers sharing a PostgreSQL store", .serialized)
struct HighAvailabilityTests {
    @Test func sharedStoreOptionsAreCheckedBeforeAnythingStarts() async throws {
        let topology = try temporaryFile(twoSiteTopology, suffix: ".yaml")
        for (arguments, words) in [
            (["--store", "postgres://junction@127.0.0.1/db", "--state", "/tmp/x"], "not both"),
            (["--store", "mysql://junction@127.0.0.1/db"], "not a PostgreSQL URL"),
            (["--store", "postgres://junction:hunter2@127.0.0.1/db?sslmode=sometimes"], "sslmode must be"),
            (["--name", "a"], "give --store too"),
            (["--store", "postgres://junction@127.0.0.1/db", "--lease-ms", "50"], "--lease-ms"),
            (["--store", "postgres://junction@127.0.0.1/db", "--advertise-pools", "ftp://x"], "--advertise-pools"),
        ] {
            let result = try await JunctionProcess(["controller", "--topology", topology] + arguments).finish(within: 30)
            #expect(result.status != 0, "\(arguments)")
            #expect(result.errors.contains(words), "\(arguments): \(result.errors)")
            #expect(!result.errors.contains("hunter2"), "a password is never printed")
        }
        // A database nobody serves: the controller says where it looked, and stops.
        let unreachable = try await JunctionProcess(["controller", "--topology", topology, "--store", "postgres://junction@127.0.0.1:9/junction?sslmode=disable"]).finish(within: 60)
        #expect(unreachable.status != 0)
        #expect(unreachable.errors.contains("cannot reach the store at postgres://junction@127.0.0.1:9/junction"), "\(unreachable.errors)")
        // An agent's and a client's lists are checked one endpoint at a time.
        let pool = try await JunctionProcess(["pool", "--id", "p", "--node", "near", "--pools", "tcp://127.0.0.1:7410,nonsense"]).finish(within: 30)
        #expect(pool.status != 0 && pool.errors.contains("--pools"), "\(pool.errors)")
        let client = try await JunctionProcess(["status", "--controller", "tcp://127.0.0.1:7411,tcp://127.0.0.1:7411"]).finish(within: 30)
        #expect(client.status != 0 && client.errors.contains("named twice"), "\(client.errors)")
    }

    @Test func everyAcknowledgedJobRunsOnceAcrossLeaderKills() async throws {
        let cluster = try await Cluster(cores: 64)
        defer { cluster.stop() }
        let runs = cluster.runs

        var acknowledged: [String] = []
        for round in 0..<3 {
            for _ in 0..<3 {
                // Each run appends its job id: a job that ran twice shows up twice.
                let submit = try await cluster.shared.client("submit", "--from", "users", "--cpu", "1", "--", "/bin/sh", "-c", "echo $JUNCTION_JOB_ID >> \(runs); sleep 2")
                let id = submit.output.split(separator: " ").first.map(String.init) ?? ""
                #expect(submit.status == 0 && id.hasPrefix("job-"), "round \(round): \(submit.output) \(submit.errors)")
                acknowledged.append(id)
            }
            let leader = try await cluster.shared.waitForLeader()
            // One more in flight as the leader dies: acknowledged by either leader or by none, it runs at most once.
            let inFlight = try JunctionProcess(["submit", "--controller", cluster.shared.clients, "--from", "users", "--cpu", "1", "--", "/bin/sh", "-c", "echo $JUNCTION_JOB_ID >> \(runs)"])
            cluster.shared.controllers[leader].process.signal(SIGKILL)
            _ = try await cluster.shared.controllers[leader].process.finish(within: 10)
            let late = try await inFlight.finish(within: 60)
            if late.status == 0, let id = late.output.split(separator: " ").first { acknowledged.append(String(id)) }
            #expect(try await cluster.shared.waitForLeader() != leader, "round \(round): the standby took over")
            try await cluster.shared.restart(leader)
        }
        #expect(Set(acknowledged).count == acknowledged.count, "no job id is handed out twice: \(acknowledged)")
        for id in acknowledged {
            let done = try await cluster.shared.waitForJob(id, state: "succeeded")
            #expect(done["attempts"] as? Int == 1, "\(id) kept its first run through the takeovers: \(done)")
        }
        let counts = runCounts(runs)
        #expect(counts.filter { $0.value > 1 }.isEmpty, "jobs that ran twice: \(counts.filter { $0.value > 1 })")
        for id in acknowledged { #expect(counts[id] == 1, "\(id) ran \(counts[id] ?? 0) times") }
    }

    @Test func aLeaderPausedPastItsLeaseServesNothingWhenItWakes() async throws {
        let cluster = try await Cluster(cores: 8)
        defer { cluster.stop() }
        let (runs, shared) = (cluster.runs, cluster.shared)
        let (paused, standby) = (shared.controllers[0], shared.controllers[1])

        paused.process.signal(SIGSTOP)
        // A submit that reaches the paused leader waits in its socket until it wakes.
        let stale = try JunctionProcess(["submit", "--controller", paused.clients, "--timeout", "120", "--from", "users", "--cpu", "1", "--", "/bin/sh", "-c", "echo stale >> \(runs)"])
        defer { stale.signal(SIGKILL) }
        try await waitUntilLeading(standby)
        let fresh = try await standby.client("submit", "--from", "users", "--cpu", "1", "--", "/bin/sh", "-c", "echo $JUNCTION_JOB_ID >> \(runs)")
        #expect(fresh.status == 0, "\(fresh.errors)")
        let id = fresh.output.split(separator: " ").first.map(String.init) ?? ""
        _ = try await shared.waitForJob(id, state: "succeeded")

        paused.process.signal(SIGCONT)
        let refused = try await stale.finish(within: 60)
        #expect(refused.status != 0, "the woken leader accepted nothing: \(refused.output)")
        #expect(refused.errors.contains("stands by") && refused.errors.contains("b leads"), "it names the leader: \(refused.errors)")
        try await waitUntil("the woken leader stepping down") { paused.process.errorsSoFar.contains("stepping down") }
        let counts = runCounts(runs)
        #expect(counts["stale"] == nil, "nothing was dispatched from the woken leader: \(counts)")
        #expect(counts[id] == 1)
        let listed = try await shared.client("status", "--json")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [[String: Any]])
        #expect(rows.compactMap { $0["job"] as? String } == [id], "the store holds the new leader's job alone: \(listed.output)")
    }

    @Test func anObserverFollowsTheNewLeaderWithAFreshSnapshot() async throws {
        let database = try PostgresServer.start()
        defer { database.stop() }
        let topology = try temporaryFile(twoSiteTopology, suffix: ".yaml")
        let shared = try await SharedControllers.start(["a", "b"], topology: topology, store: database.url)
        defer { shared.killAll() }
        let events = shared.controllers.map(\.events).joined(separator: ",")
        let watch = try JunctionProcess(["watch", "--controller", shared.clients, "--events", events])
        defer { watch.signal(SIGKILL) }
        _ = try await watch.waitForOutput("(controller epoch 1)")
        shared.controllers[0].process.signal(SIGKILL)
        // Accepted by the new leader: it waits for a pool, and its event goes out under epoch 2.
        let submit = try await shared.client("submit", "--from", "users", "--cpu", "1", "--", "true")
        #expect(submit.status == 0, "\(submit.errors)")
        let fresh = try await watch.waitForOutput("(controller epoch 2)", within: 60)
        #expect(fresh.contains("a new controller epoch 2: taking a fresh snapshot"), "\(fresh)")
        // Events after the new snapshot are followed as before.
        let next = try await shared.client("submit", "--from", "users", "--cpu", "1", "--", "true")
        let id = next.output.split(separator: " ").first.map(String.init) ?? ""
        #expect(next.status == 0 && id.hasPrefix("job-"), "\(next.errors)")
        _ = try await watch.waitForOutput("\(id) accepted", within: 60)
    }

    @Test func aDatabaseRestartUnderTheLeaderLosesNoJob() async throws {
        let cluster = try await Cluster(cores: 8, extra: [])
        defer { cluster.stop() }
        let (runs, shared, database) = (cluster.runs, cluster.shared, cluster.database)
        var ids: [String] = []
        for round in 0..<2 {
            let submit = try await shared.client("submit", "--from", "users", "--cpu", "1", "--", "/bin/sh", "-c", "echo $JUNCTION_JOB_ID >> \(runs); sleep 3")
            #expect(submit.status == 0, "round \(round): \(submit.errors)")
            ids.append(submit.output.split(separator: " ").first.map(String.init) ?? "")
            try database.restart()
        }
        let after = try await shared.client("submit", "--timeout", "20", "--from", "users", "--cpu", "1", "--", "/bin/sh", "-c", "echo $JUNCTION_JOB_ID >> \(runs)")
        #expect(after.status == 0, "a submit after the restarts: \(after.errors)")
        ids.append(after.output.split(separator: " ").first.map(String.init) ?? "")
        for id in ids {
            let done = try await shared.waitForJob(id, state: "succeeded")
            #expect(done["attempts"] as? Int == 1, "\(id): \(done)")
        }
        let counts = runCounts(runs)
        for id in ids { #expect(counts[id] == 1, "\(id) ran \(counts[id] ?? 0) times") }
        #expect(shared.controllers[0].process.process.isRunning && shared.controllers[1].process.process.isRunning, "no controller gave up")
    }
}
