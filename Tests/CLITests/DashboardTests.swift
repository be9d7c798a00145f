import Foundation
import Testing

/// The Browser folder beside this test's own.
func browserScript(_ name: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Browser/\(name)").path
}

@Suite("The dashboard in a real browser", .serialized)
struct DashboardTests {
    /// The demo's network: every node and declared pool of the built-in Abilene topology.
    static let abileneNodes = ["Seattle", "Sunnyvale", "Los_Angeles", "Denver", "Kansas_City", "Houston", "Chicago", "Indianapolis", "Atlanta", "New_York", "Washington_DC"]
    static let abilenePools = ["atlanta-edge", "chicago-a100", "nyc-cpu", "seattle-bulk", "sunnyvale-h100"]

    @Test func theDemoDashboardShowsTheNetworkAndAJobWithinTwoSeconds() async throws {
        let chromium = try requiredProgram("chromium")
        let python = try requiredProgram("python3")
        let demo = try JunctionProcess(["demo", "--dashboard"])
        let output = try await demo.waitForOutput("dashboard: ", within: 60)
        let url = try #require(output.split(separator: "\n").first { $0.hasPrefix("dashboard: ") }?.split(separator: " ").last.map(String.init))
        let listening = try #require(output.split(separator: "\n").first { $0.hasPrefix("controller listening:") })
        let clients = try #require(listening.components(separatedBy: "clients ").last?.split(separator: ",").first.map(String.init))
        let screenshot = FileManager.default.temporaryDirectory.appendingPathComponent("junction-dashboard-\(UUID().uuidString).png").path
        defer { try? FileManager.default.removeItem(atPath: screenshot) }

        let check = try JunctionProcess([
            browserScript("dashboard_check.py"), "--chromium", chromium.path, "--url", url, "--screenshot", screenshot,
            "--nodes", Self.abileneNodes.joined(separator: ","), "--pools", Self.abilenePools.joined(separator: ","),
            "--submit", "\(try junctionExecutable().path) submit --controller \(clients) --from Seattle --cpu 1 -- /bin/sleep 5",
        ], program: python)
        let finished = try await check.finish(within: 180)
        #expect(finished.status == 0, "\(finished.errors)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(finished.output.utf8)) as? [String: Any], "\(finished.output) \(finished.errors)")
        #expect(report["missing_nodes"] as? [String] == [], "\(report)")
        #expect(report["missing_pools"] as? [String] == [], "\(report)")
        #expect(report["pool_rows"] as? Int == Self.abilenePools.count, "\(report)")
        #expect((report["status"] as? String)?.contains("live") == true, "\(report)")
        // A blank page has one colour; the map, its links in three shades and the tables have hundreds.
        #expect((report["screenshot_colours"] as? Int ?? 0) > 50, "\(report)")
        let appeared = try #require(report["job_appeared_after_s"] as? Double, "the submitted job never appeared on the page: \(report)")
        #expect(appeared <= 2, "the job took \(appeared) s to appear")

        // The demo's own jobs are done before it says it keeps running; Ctrl-C then ends it.
        _ = try await demo.waitForOutput("the demo keeps running for the dashboard", within: 120)
        demo.signal(SIGINT)
        let ended = try await demo.finish(within: 30)
        #expect(ended.status == 0, "\(ended.output) \(ended.errors)")
        #expect(ended.output.contains("the demo keeps running for the dashboard"))
    }
}
