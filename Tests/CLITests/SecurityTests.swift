import Foundation
import Testing

/// Key pairs for a controller and its peers, and an access file that names them.
struct KeyRing {
    let directory: String
    let access: String

    init() async throws {
        directory = try temporaryDirectory()
        for name in ["controller", "near-agent", "alice", "bob", "watcher", "ops", "stranger"] {
            let made = try await junction("keygen", "--out", "\(directory)/\(name)")
            #expect(made.status == 0, "\(made.errors)")
        }
        access = "\(directory)/access.yaml"
        try """
        key: controller.key
        pools:
          - {name: near-agent, key: near-agent.pub, pools: [near-1]}
        clients:
          - {name: alice, key: alice.pub, role: submit, tenant: climate-lab}
          - {name: bob, key: bob.pub, role: submit}
          - {name: watcher, key: watcher.pub, role: observer}
          - {name: ops, key: ops.pub, role: operator}
        """.write(toFile: access, atomically: true, encoding: .utf8)
    }

    /// The options that make a command a CURVE client with `name`'s key.
    func keys(_ name: String) -> [String] {
        ["--key", "\(directory)/\(name).key", "--server-key", "\(directory)/controller.pub"]
    }
}

@Suite("Keys and roles", .serialized)
struct SecurityTests {
    @Test func keygenWritesASecretFileOnlyItsOwnerReads() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let made = try await junction("keygen", "--out", "\(directory)/peer")
        #expect(made.status == 0, "\(made.errors)")
        let attributes = try FileManager.default.attributesOfItem(atPath: "\(directory)/peer.key")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let again = try await junction("keygen", "--out", "\(directory)/peer")
        #expect(again.status != 0 && again.errors.contains("never overwritten"), "\(again.errors)")
        // The name may also come alone, as the overview's NAME.key suggests; it must come once.
        let named = try await junction("keygen", "\(directory)/other")
        #expect(named.status == 0 && FileManager.default.fileExists(atPath: "\(directory)/other.pub"), "\(named.errors)")
        let unnamed = try await junction("keygen")
        #expect(unnamed.status == 64 && unnamed.errors.contains("name the files to write"), "\(unnamed.errors)")
        let twice = try await junction("keygen", "\(directory)/a", "--out", "\(directory)/b")
        #expect(twice.status == 64 && twice.errors.contains("not both"), "\(twice.errors)")
    }

    @Test func onlyAllowedKeysTakePartEachInItsRole() async throws {
        let ring = try await KeyRing()
        defer { try? FileManager.default.removeItem(atPath: ring.directory) }
        let work = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let topology = try temporaryFile(twoSiteTopology, suffix: ".yaml")
        let controller = try await RunningController.start(topology: topology, extra: ["--access", ring.access])
        defer { controller.process.signal(SIGKILL) }
        #expect(controller.process.outputSoFar.contains("1 pool and 4 client keys allowed"))

        func client(_ name: String, _ arguments: String...) async throws -> Finished {
            try await JunctionProcess([arguments[0], "--controller", controller.clients] + ring.keys(name) + arguments.dropFirst()).finish(within: 30)
        }
        let pool = try JunctionProcess(["pool", "--id", "near-1", "--node", "near", "--pools", controller.pools, "--cpu", "4", "--memory-gib", "4", "--work-dir", work] + ring.keys("near-agent"))
        defer { pool.signal(SIGKILL) }
        // A key bound to other pool ids, or a client's key, cannot register a pool: the agent stops.
        let impostor = try await JunctionProcess(["pool", "--id", "near-2", "--node", "near", "--pools", controller.pools, "--cpu", "4", "--memory-gib", "4", "--work-dir", work] + ring.keys("alice")).finish(within: 30)
        #expect(impostor.status != 0)
        #expect(impostor.errors.contains("key \"alice\" may not register as pool near-2"), "\(impostor.errors)")

        let deadline = Date().addingTimeInterval(20)
        var pools = try await client("watcher", "pools", "--json")
        while !pools.output.contains("\"near-1\""), Date() < deadline {
            try await Task.sleep(for: .milliseconds(200))
            pools = try await client("watcher", "pools", "--json")
        }
        #expect(pools.output.contains("\"near-1\""), "\(pools.errors)")

        // Events name every job: an observer's key may follow them, a pool's key is refused.
        func follower(_ name: String) throws -> JunctionProcess {
            try JunctionProcess(["watch", "--controller", controller.clients, "--events", controller.events, "--topic", "job/", "--count", "1", "--json"] + ring.keys(name))
        }
        let observing = try follower("watcher")
        defer { observing.signal(SIGKILL) }
        let poolKeyed = try follower("near-agent")
        defer { poolKeyed.signal(SIGKILL) }

        let watcher = try await client("watcher", "submit", "--from", "users", "--cpu", "1", "--", "/bin/true")
        #expect(watcher.status != 0 && watcher.errors.contains("watcher has the observer role"), "\(watcher.errors)")
        let alice = try await client("alice", "submit", "--from", "users", "--cpu", "1", "--", "/bin/sleep", "60")
        #expect(alice.status == 0, "\(alice.errors)")
        let bob = try await client("bob", "cancel", "job-1")
        #expect(bob.status != 0 && bob.errors.contains("job-1 was submitted by another key"), "\(bob.errors)")
        let bobLooks = try await client("bob", "status", "job-1")
        #expect(bobLooks.status != 0 && bobLooks.errors.contains("job-1 was submitted by another key"), "\(bobLooks.errors)")
        let bobLists = try await client("bob", "status", "--json")
        #expect(bobLists.status == 0 && !bobLists.output.contains("job-1"), "a submit key lists only its own jobs: \(bobLists.output) \(bobLists.errors)")
        let aliceLists = try await client("alice", "status", "--json")
        #expect(aliceLists.status == 0 && aliceLists.output.contains("job-1"), "\(aliceLists.output) \(aliceLists.errors)")


        // The subscriber may have joined after that submit: submit again until it hears one.
        let followDeadline = Date().addingTimeInterval(30)
        while observing.process.isRunning, Date() < followDeadline {
            _ = try await client("alice", "submit", "--from", "users", "--cpu", "1", "--", "/bin/true")
            try await Task.sleep(for: .milliseconds(500))
        }
        let observed = try await observing.finish(within: 5)
        #expect(observed.status == 0 && observed.output.contains("\"job"), "an observer follows job events: \(observed.output) \(observed.errors)")
        let refusedFollower = try await poolKeyed.finish(within: 10)
        #expect(refusedFollower.status != 0 && !refusedFollower.output.contains("\"job"), "a pool key hears no event: \(refusedFollower.output)")
        #expect(refusedFollower.errors.contains("\"near-agent\" is not a client key"), "\(refusedFollower.errors)")
        #expect(controller.process.errorsSoFar.contains("refused a subscriber"), "\(controller.process.errorsSoFar.suffix(2_000))")
        let ops = try await client("ops", "cancel", "job-1")
        #expect(ops.status == 0, "\(ops.errors)")
        // Alice's ended jobs are her tenant's: usage sums them under it.
        let usageDeadline = Date().addingTimeInterval(20)
        var usage = try await client("ops", "usage", "--by", "tenant", "--csv")
        while !usage.output.contains("climate-lab,"), Date() < usageDeadline {
            try await Task.sleep(for: .milliseconds(200))
            usage = try await client("ops", "usage", "--by", "tenant", "--csv")
        }
        #expect(usage.output.hasPrefix("tenant,jobs,core_hours") && usage.output.contains("\nclimate-lab,"), "\(usage.output) \(usage.errors)")

        // A key the controller does not know never gets through the handshake; its log names it.
        let stranger = try await JunctionProcess(["pools", "--controller", controller.clients, "--timeout", "2"] + ring.keys("stranger")).finish(within: 30)
        #expect(stranger.status != 0 && stranger.errors.contains("--server-key"), "\(stranger.errors)")
        let strangerKey = try String(contentsOfFile: "\(ring.directory)/stranger.pub", encoding: .utf8).replacingOccurrences(of: "public-key: ", with: "").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(controller.process.errorsSoFar.contains("its CURVE key \(strangerKey) is not on the allow-list"))
        // And one without keys at all is not answered either.
        let plain = try await junction("pools", "--controller", controller.clients, "--timeout", "2")
        #expect(plain.status != 0)
        #expect(controller.process.process.isRunning)
    }

    @Test func aControllerBeyondLoopbackNeedsKeysAndAccessFilesAreChecked() async throws {
        let topology = try temporaryFile(twoSiteTopology, suffix: ".yaml")
        let open = try await junction("controller", "--topology", topology, "--pools", "tcp://0.0.0.0:0", "--state", try temporaryDirectory())
        #expect(open.status != 0)
        #expect(open.errors.contains("listens beyond loopback without keys"), "\(open.errors)")
        let bad = try temporaryFile("key: missing.key\npools:\n  - name: x\n    key: notakey\n    pools: []\nclients:\n  - {name: y, key: y.pub, role: admin}\n", suffix: ".yaml")
        let refused = try await junction("controller", "--topology", topology, "--access", bad, "--state", try temporaryDirectory())
        #expect(refused.status != 0)
        for expected in [":1:6: error: cannot read the key file", ":4:10: error: notakey is neither", "role must be observer, submit or operator, not admin"] {
            #expect(refused.errors.contains(expected), "\(expected): \(refused.errors)")
        }
    }
}
