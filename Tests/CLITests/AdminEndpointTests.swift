import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// An HTTP GET on loopback: the status and the body.
func httpGet(_ url: String) async throws -> (status: Int, body: String) {
    var request = URLRequest(url: try #require(URL(string: url)))
    request.timeoutInterval = 30
    let (data, response) = try await URLSession.shared.data(for: request)
    return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
}

/// A program from Debian's packages the tests drive for real; missing, the test fails and says
/// how to install it, never passing silently.
func requiredProgram(_ name: String) throws -> URL {
    for directory in ["/usr/bin", "/usr/local/bin", "/bin"] {
        let path = "\(directory)/\(name)"
        if FileManager.default.isExecutableFile(atPath: path) { return URL(fileURLWithPath: path) }
    }
    Issue.record("\(name) is not installed: run Deploy/setup-debian.sh --tests, which installs the services the tests drive")
    throw ProcessWaitError(description: "\(name) is not installed")
}

/// Runs a program to its end with `input` on its standard input.
func run(_ program: URL, _ arguments: [String], input: String) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = program
    process.arguments = arguments
    let stdin = Pipe()
    let stdout = Pipe()
    process.standardInput = stdin
    process.standardOutput = stdout
    process.standardError = stdout
    try process.run()
    stdin.fileHandleForWriting.write(Data(input.utf8))
    try stdin.fileHandleForWriting.close()
    let output = stdout.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self))
}

/// A TCP port free on loopback now, for a program that cannot report the one it was given.
func freeLoopbackPort() throws -> Int {
    let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0 }
    }
    try #require(bound, "could not bind a loopback socket")
    return Int(UInt16(bigEndian: address.sin_port))
}

/// The admin URL a daemon printed.
func adminURL(of process: JunctionProcess) async throws -> String {
    let output = try await process.waitForOutput("admin ")
    let line = try #require(output.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("admin ") })
    let url = try #require(line.split(separator: " ").first { $0.hasPrefix("http://") })
    return url.hasSuffix("/") ? String(url.dropLast()) : String(url)
}

/// Polls until `check` holds, within a generous deadline; fails with what was last seen.
func waitUntil(_ what: String, within seconds: Double = 60, _ check: () async throws -> (Bool, String)) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    var last = ""
    while Date() < deadline {
        let (done, seen) = try await check()
        if done { return }
        last = seen
        try await Task.sleep(for: .milliseconds(250))
    }
    Issue.record("\(what) did not happen within \(seconds) s; last seen: \(last.prefix(2_000))")
    throw ProcessWaitError(description: "\(what) did not happen")
}

/// The value of one sample (`name{labels}`) in a Prometheus text exposition.
func sample(_ exposition: String, _ series: String) -> Double? {
    for line in exposition.split(separator: "\n") where line.hasPrefix(series + " ") {
        return Double(line.split(separator: " ").last ?? "")
    }
    return nil
}

/// A raw HTTP/1.1 connection on loopback, for a response that never ends (server-sent events).
final class StreamingConnection {
    private let socket: Int32
    private(set) var received = ""

    init(port: Int, path: String) throws {
        socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        try #require(connected, "could not connect to 127.0.0.1:\(port)")
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(socket, $0.baseAddress, $0.count, 0) }
    }

    /// Reads until what arrived contains `text`, or fails after `seconds`.
    func read(until text: String, within seconds: Double = 30) throws {
        let deadline = Date().addingTimeInterval(seconds)
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while !received.contains(text), Date() < deadline {
            let count = recv(socket, &buffer, buffer.count, 0)
            if count > 0 { received += String(decoding: buffer[..<count], as: UTF8.self) } else if count == 0 { break }
        }
        try #require(received.contains(text), "no \"\(text)\" on the stream; got: \(received.suffix(2_000))")
    }

    deinit { close(socket) }
}

@Suite("The admin endpoint", .serialized)
struct AdminEndpointTests {
    @Test func metricsHealthAndTheJSONAPIFollowTheController() async throws {
        let work = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let topology = try temporaryFile(twoSiteTopology, suffix: ".yaml")
        let controller = try await RunningController.start(topology: topology, extra: ["--admin", "127.0.0.1:0"])
        let admin = try await adminURL(of: controller.process)
        let pool = try JunctionProcess(["pool", "--id", "near-1", "--node", "near", "--pools", controller.pools, "--cpu", "4", "--memory-gib", "8", "--work-dir", work, "--admin", "127.0.0.1:0"])
        let poolAdmin = try await adminURL(of: pool)
        try await controller.waitForPools(["near-1"])

        #expect(try await httpGet("\(admin)/healthz") == (200, "ok\n"))
        #expect(try await httpGet("\(admin)/readyz") == (200, "ready\n"))
        try await waitUntil("the agent's readiness") { let ready = try await httpGet("\(poolAdmin)/readyz"); return (ready.status == 200, ready.body) }

        let done = try await controller.client("submit", "--from", "users", "--cpu", "2", "--wait", "--", "/bin/sh", "-c", "exit 0")
        #expect(done.status == 0, "\(done.output) \(done.errors)")
        let refused = try await controller.client("submit", "--from", "users", "--cpu", "64", "--", "/bin/true")
        #expect(refused.status != 0)

        let metrics = try await httpGet("\(admin)/metrics")
        #expect(metrics.status == 200)
        #expect(sample(metrics.body, "junction_jobs_submitted_total") == 1)
        #expect(sample(metrics.body, "junction_jobs_finished_total{state=\"succeeded\"}") == 1)
        #expect(sample(metrics.body, "junction_placements_total{request=\"submit\",outcome=\"no_pool\"}") == 1)
        #expect(sample(metrics.body, "junction_pools{status=\"up\"}") == 1)
        #expect(sample(metrics.body, "junction_capacity_cpu_cores{kind=\"total\"}") == 4)
        #expect(sample(metrics.body, "junction_link_capacity_bytes_per_second{link=\"users-near\"}") != nil, "\(metrics.body)")
        #expect(sample(metrics.body, "junction_store_commit_duration_seconds_count") ?? 0 >= 1)
        #expect(sample(metrics.body, "junction_placement_duration_seconds_count") == 2)
        #expect(sample(metrics.body, "junction_connections{endpoint=\"pools\"}") == 1, "one agent connected")
        let agentMetrics = try await httpGet("\(poolAdmin)/metrics")
        #expect(sample(agentMetrics.body, "junction_agent_jobs_finished_total{outcome=\"succeeded\"}") == 1)
        #expect(sample(agentMetrics.body, "junction_agent_capacity_cpu_cores{kind=\"total\"}") == 4)
        #expect(sample(agentMetrics.body, "junction_agent_registered") == 1)

        // Every exposition passes Prometheus's own linter.
        let promtool = try requiredProgram("promtool")
        for (daemon, exposition) in [("controller", metrics.body), ("agent", agentMetrics.body)] {
            let check = try run(promtool, ["check", "metrics"], input: exposition)
            #expect(check.status == 0 && check.output.isEmpty, "promtool check metrics on the \(daemon)'s exposition: \(check.output)")
        }

        // The JSON API answers the protocol's own requests in protobuf's JSON mapping.
        let pools = try await httpGet("\(admin)/api/v1/pools")
        let table = try #require(try JSONSerialization.jsonObject(with: Data(pools.body.utf8)) as? [String: Any])
        let rows = try #require((table["poolTable"] as? [String: Any])?["pools"] as? [[String: Any]])
        #expect(rows.compactMap { $0["poolId"] as? String } == ["near-1"])
        let job = try await httpGet("\(admin)/api/v1/jobs/job-1")
        #expect(job.status == 200 && job.body.contains("JOB_STATE_SUCCEEDED"), "\(job.body)")
        #expect(try await httpGet("\(admin)/api/v1/jobs/job-99").status == 404)
        #expect(try await httpGet("\(admin)/api/v1/jobs/not-a-job").status == 400)
        #expect(try await httpGet("\(admin)/api/v1/pools?limit=-1").status == 400)
        #expect(try await httpGet("\(admin)/api/v1/nothing").status == 404)
        #expect(try await httpGet("\(admin)/api/v1/routes").status == 400)
        #expect(try await httpGet("\(admin)/api/v1/routes/nowhere").status == 400)
        let routes = try await httpGet("\(admin)/api/v1/routes/users")
        #expect(routes.status == 200 && routes.body.contains("\"near-1\""), "\(routes.body)")
        let network = try await httpGet("\(admin)/api/v1/topology")
        let view = try #require(try JSONSerialization.jsonObject(with: Data(network.body.utf8)) as? [String: Any])
        #expect((view["nodes"] as? [[String: Any]])?.count == 3)
        #expect((view["links"] as? [[String: Any]])?.count == 2)

        for process in [pool, controller.process] { process.signal(SIGTERM) }
        #expect(try await controller.process.finish(within: 15).status == 0)
        #expect(try await pool.finish(within: 15).status == 0)
    }

    @Test func theEventStreamCarriesJobsAndEndsWithTheController() async throws {
        let work = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let topology = try temporaryFile(twoSiteTopology, suffix: ".yaml")
        let controller = try await RunningController.start(topology: topology, extra: ["--admin", "127.0.0.1:0"])
        let admin = try await adminURL(of: controller.process)
        let port = try #require(Int(admin.split(separator: ":").last ?? ""))
        let pool = try JunctionProcess(["pool", "--id", "near-1", "--node", "near", "--pools", controller.pools, "--cpu", "2", "--memory-gib", "2", "--work-dir", work])
        try await controller.waitForPools(["near-1"])

        let stream = try StreamingConnection(port: port, path: "/api/v1/events")
        try stream.read(until: ": junction events")
        #expect(stream.received.contains("text/event-stream"))
        let submitted = try await controller.client("submit", "--from", "users", "--cpu", "1", "--", "/bin/true")
        #expect(submitted.status == 0, "\(submitted.errors)")
        try stream.read(until: "\"jobId\":\"job-1\"")
        #expect(stream.received.contains("data: {\"event\":"))

        // A browser left open does not hold the controller up when it stops.
        for process in [pool, controller.process] { process.signal(SIGTERM) }
        let ended = try await controller.process.finish(within: 20)
        #expect(ended.status == 0, "\(ended.errors.suffix(2_000))")
        _ = try await pool.finish(within: 15)
    }

    @Test func aRealPrometheusScrapesTheControllerAndTheAgent() async throws {
        let prometheus = try requiredProgram("prometheus")
        let work = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let topology = try temporaryFile(twoSiteTopology, suffix: ".yaml")
        let controller = try await RunningController.start(topology: topology, extra: ["--admin", "127.0.0.1:0"])
        let admin = try await adminURL(of: controller.process)
        let pool = try JunctionProcess(["pool", "--id", "far-1", "--node", "far", "--pools", controller.pools, "--cpu", "6", "--memory-gib", "8", "--work-dir", work, "--admin", "127.0.0.1:0"])
        let poolAdmin = try await adminURL(of: pool)
        try await controller.waitForPools(["far-1"])

        let port = try freeLoopbackPort()
        let config = """
        global:
          scrape_interval: 1s
          scrape_timeout: 1s
        scrape_configs:
          - job_name: junction-controller
            static_configs: [{targets: ["\(admin.dropFirst("http://".count))"]}]
          - job_name: junction-pool
            static_configs: [{targets: ["\(poolAdmin.dropFirst("http://".count))"]}]
        """
        let configFile = "\(work)/prometheus.yml"
        try config.write(toFile: configFile, atomically: true, encoding: .utf8)
        let server = try JunctionProcess([
            "--config.file=\(configFile)", "--storage.tsdb.path=\(work)/tsdb", "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn",
        ], program: prometheus)
        defer { server.signal(SIGKILL) }
        let api = "http://127.0.0.1:\(port)/api/v1/query?query="

        // Both targets are scraped and up; the values are the daemons' own.
        try await waitUntil("Prometheus scraping both daemons") {
            let up = try? await httpGet(api + "sum(up)")
            return (up?.body.contains("\"2\"") == true, up?.body ?? "no answer from Prometheus; \(server.errorsSoFar)")
        }
        let pools = try await httpGet(api + "junction_pools%7Bstatus%3D%22up%22%7D")
        #expect(pools.body.contains("\"1\"]"), "\(pools.body)")
        let cores = try await httpGet(api + "junction_agent_capacity_cpu_cores%7Bkind%3D%22total%22%7D")
        #expect(cores.body.contains("\"6\"]"), "\(cores.body)")
        // A job submitted now is in the next scrapes.
        let submitted = try await controller.client("submit", "--from", "users", "--cpu", "1", "--", "/bin/true")
        #expect(submitted.status == 0, "\(submitted.errors)")
        try await waitUntil("Prometheus seeing the submitted job") {
            let total = try await httpGet(api + "junction_jobs_submitted_total")
            return (total.body.contains("\"1\"]"), total.body)
        }

        server.signal(SIGTERM)
        _ = try await server.finish(within: 20)
        for process in [pool, controller.process] { process.signal(SIGTERM) }
        #expect(try await controller.process.finish(within: 15).status == 0)
        #expect(try await pool.finish(within: 15).status == 0)
    }
}
