import Foundation
import Testing

@Suite("junction simulate")
struct SimulateCommandTests {
    @Test func comparesThePoliciesOnATrace() async throws {
        var lines = ["id,arrival_s,runtime_s,cpu_cores,memory_gib,gpus,gpu_models,data_gb,ingress"]
        for index in 0..<60 {
            lines.append("job-\(index),\(index * 20),\(300 + index % 7 * 60),\(8 + index % 3 * 8),16,\(index % 5 == 0 ? 2 : 0),,\(index % 4 == 0 ? 50 : 1),\(["New_York", "Seattle", "Houston"][index % 3])")
        }
        let trace = try temporaryFile(lines.joined(separator: "\n") + "\n", suffix: ".csv")
        defer { try? FileManager.default.removeItem(atPath: trace) }
        let result = try await junction("simulate", "--topology", topologies.appendingPathComponent("abilene.yaml").path, "--trace", trace, "--format", "csv", "--json", within: 60)
        #expect(result.status == 0, "\(result.errors)")
        let reports = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [[String: Any]])
        #expect(reports.map { $0["policy"] as? String } == ["junction", "compute-only", "network-only", "random"])
        for report in reports {
            #expect(report["completed"] as? Int == 60, "\(report)")
            #expect((report["meanCompletionS"] as? Double ?? 0) >= 300 / 1.6)
        }
    }

    @Test func aBadTraceIsReportedWithItsLine() async throws {
        let trace = try temporaryFile("id,arrival_s,runtime_s\na,1,oops\n", suffix: ".csv")
        defer { try? FileManager.default.removeItem(atPath: trace) }
        let result = try await junction("simulate", "--topology", topologies.appendingPathComponent("abilene.yaml").path, "--trace", trace, "--format", "csv")
        #expect(result.status != 0)
        #expect(result.errors.contains("line 2: runtime_s must be a number"))
    }
}
