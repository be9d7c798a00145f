import Foundation
import Testing

@Suite("Daemon configuration files")
struct ConfigFileTests {
    @Test func aDaemonReadsItsFileAndTheCommandLineWins() async throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try twoSiteTopology.write(toFile: folder + "/sites.yaml", atomically: true, encoding: .utf8)
        // Relative paths are the file's folder's, not the working directory's.
        try """
        topology: sites.yaml
        pools: tcp://127.0.0.1:*
        clients: tcp://127.0.0.1:*
        events: tcp://127.0.0.1:*
        heartbeat-ms: 250
        liveness-ms: 4000
        state: from-the-file
        log-level: info
        """.write(toFile: folder + "/controller.yaml", atomically: true, encoding: .utf8)
        let checked = try await junction("config", "check", folder + "/controller.yaml")
        #expect(checked.status == 0, "\(checked.errors)")
        #expect(checked.output.contains("a valid configuration of junction controller (8 settings)"), "\(checked.output)")

        let state = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let process = try JunctionProcess(["controller", "--config", folder + "/controller.yaml", "--state", state])
        defer { process.signal(SIGKILL) }
        let output = try await process.waitForOutput("events ")
        #expect(output.contains("controller: two-sites"), "the topology named relative to the file: \(output)")
        #expect(output.contains("store   \(state)"), "--state on the command line wins: \(output)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/from-the-file"))
        func endpoint(_ name: String) throws -> String {
            let line = try #require(output.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix(name + " ") })
            return String(line.split(separator: " ").last!)
        }
        let (pools, clients) = (try endpoint("pools"), try endpoint("clients"))

        let work = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        try """
        id: near-1
        node: near
        pools: \(pools)
        cpu: 3
        memory-gib: 2
        label: [tier=test, site=lab]
        work-dir: \(work)
        """.write(toFile: folder + "/pool.yaml", atomically: true, encoding: .utf8)
        let poolChecked = try await junction("config", "check", folder + "/pool.yaml")
        #expect(poolChecked.status == 0 && poolChecked.output.contains("--label=tier=test --label=site=lab"), "a list is a repeated option: \(poolChecked.output) \(poolChecked.errors)")
        let agent = try JunctionProcess(["pool", "--config", folder + "/pool.yaml"])
        defer { agent.signal(SIGKILL) }
        let deadline = Date().addingTimeInterval(30)
        var listed = ""
        while Date() < deadline {
            listed = try await JunctionProcess(["pools", "--controller", clients, "--json"]).finish(within: 20).output
            if listed.contains("\"near-1\""), listed.contains("\"cpu_total\" : 3") { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(listed.contains("\"near-1\"") && listed.contains("\"cpu_total\" : 3"), "the agent registered with the file's id and capacity: \(listed) \(agent.errorsSoFar)")
    }

    @Test func everyProblemOfAFileIsListedWithItsPlaceAndNothingStarts() async throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let file = folder + "/controller.yaml"
        try """
        topology: [a.yaml, b.yaml]
        pols: tcp://127.0.0.1:7411
        insecure: maybe
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let checked = try await junction("config", "check", file, "--daemon", "controller")
        #expect(checked.status == 1)
        #expect(checked.errors.contains("\(file):1:11: error: topology takes one value, not a list"), "\(checked.errors)")
        #expect(checked.errors.contains("\(file):2:1: error: unknown key \"pols\" in the configuration of junction controller; did you mean \"pools\"?"))
        #expect(checked.errors.contains("\(file):3:11: error: insecure is a switch: write true or false"))
        let started = try await junction("controller", "--config", file)
        #expect(started.status != 0 && started.errors.contains("nothing was started"), "\(started.errors)")

        // A value the daemon refuses is named with where the file set it.
        try "id: east-1\nnode: east\ncpu: -3\n".write(toFile: folder + "/pool.yaml", atomically: true, encoding: .utf8)
        let pool = try await junction("config", "check", folder + "/pool.yaml")
        #expect(pool.status != 0 && pool.errors.contains("--cpu must be a number from 0 to 10000000, not -3 (set at \(folder)/pool.yaml:3:6)"), "\(pool.errors)")
        // On the command line too, a negative number is a value out of range, not a missing one.
        let typed = try await junction("pool", "--id", "east-1", "--cpu", "-3")
        #expect(typed.status == 64 && typed.errors.contains("--cpu must be a number from 0 to 10000000, not -3"), "\(typed.errors)")
        let horizon = try await junction("controller", "--topology", "missing.yaml", "--plan-horizon-s", "-1")
        #expect(horizon.status == 64 && horizon.errors.contains("--plan-horizon-s must be a number from 0 to"), "\(horizon.errors)")
        // And a file naming a topology with errors does not pass.
        try "topology: missing.yaml\n".write(toFile: folder + "/missing.yaml", atomically: true, encoding: .utf8)
        let missing = try await junction("config", "check", folder + "/missing.yaml", "--daemon", "controller")
        #expect(missing.status != 0 && missing.errors.contains("would not start"), "\(missing.errors)")
    }
}
