import Foundation
import Testing

/// The repository's Topologies folder.
let topologies = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Topologies")

/// Writes text to a fresh temporary file and returns its path.
func temporaryFile(_ text: String, suffix: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("junction-\(UUID().uuidString)\(suffix)").path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

@Suite("junction topology")
struct TopologyCommandTests {
    @Test func validatePassesTheShippedFiles() async throws {
        let files = ["abilene.yaml", "chinanet-edwc.yaml", "geant2012.yaml", "cogentco.yaml"].map { topologies.appendingPathComponent($0).path }
        let result = try await JunctionProcess(["topology", "validate"] + files).finish(within: 30)
        #expect(result.status == 0, "\(result.output)\(result.errors)")
        #expect(result.output.components(separatedBy: ": valid:").count == 5)
    }

    @Test func validateListsEveryProblemAndFails() async throws {
        let file = try temporaryFile("""
        name: bad
        nodes:
          - id: A
          - id: B
        links:
          - {between: [A, C], latency_ms: 1}
          - {between: [A, B], latency_ms: -1}
        """, suffix: ".yaml")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let result = try await junction("topology", "validate", file)
        #expect(result.status == 1)
        #expect(result.output.contains("\(file):6:19: error: between names node \"C\", which is not in nodes\n"))
        #expect(result.output.contains("\(file):7:35: error: latency_ms of link A–B is -1"))
        #expect(result.output.contains("invalid: 2 errors"))

        let json = try await junction("topology", "validate", "--json", file)
        #expect(json.status == 1)
        let parsed = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [[String: Any]]
        let problems = try #require(parsed?.first?["problems"] as? [[String: Any]])
        #expect(problems.map { $0["line"] as? Int } == [6, 7])
        #expect(problems.map { $0["code"] as? String } == ["unknown_node", "negative"])
    }

    @Test func showDescribesTheNetwork() async throws {
        let file = topologies.appendingPathComponent("abilene.yaml").path
        let result = try await junction("topology", "show", file)
        #expect(result.status == 0, "\(result.errors)")
        #expect(result.output.contains("nodes      11"))
        #expect(result.output.contains("connected  yes"))
        #expect(result.output.contains("sunnyvale-h100"))

        let json = try await junction("topology", "show", "--json", file)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
        #expect(parsed["nodes"] as? Int == 11)
        #expect(parsed["links"] as? Int == 14)
        #expect(parsed["connected"] as? Bool == true)
        let diameter = try #require(parsed["latencyDiameterMs"] as? Double)
        #expect(diameter > 20 && diameter < 30, "coast to coast over Abilene is about 24 ms")
        #expect((parsed["pools"] as? [Any])?.count == 5)
    }

    @Test func showRefusesABrokenFile() async throws {
        let file = try temporaryFile("name: x\nnodes: []\n", suffix: ".yaml")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let result = try await junction("topology", "show", file)
        #expect(result.status != 0)
        #expect(result.errors.contains("nodes is empty"))
    }

    @Test func importWritesAValidFileAndAttachesPoolsNearPoints() async throws {
        let graphml = try temporaryFile("""
        <?xml version="1.0" encoding="utf-8"?>
        <graphml xmlns="http://graphml.graphdrawing.org/xmlns">
          <key attr.name="label" attr.type="string" for="node" id="l" />
          <key attr.name="Latitude" attr.type="double" for="node" id="la" />
          <key attr.name="Longitude" attr.type="double" for="node" id="lo" />
          <key attr.name="LinkLabel" attr.type="string" for="edge" id="ll" />
          <graph edgedefault="undirected">
            <node id="0"><data key="l">Paris</data><data key="la">48.85</data><data key="lo">2.35</data></node>
            <node id="1"><data key="l">Berlin</data><data key="la">52.52</data><data key="lo">13.40</data></node>
            <edge source="0" target="1"><data key="ll">STM-16</data></edge>
          </graph>
        </graphml>
        """, suffix: ".graphml")
        let pools = try temporaryFile("""
        pools:
          - id: potsdam
            near: {lat: 52.39, lon: 13.06}
            capacity: {cpu_cores: 64}
        """, suffix: ".yaml")
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("junction-\(UUID().uuidString).yaml").path
        defer { for file in [graphml, pools, output] { try? FileManager.default.removeItem(atPath: file) } }

        let result = try await junction("topology", "import", graphml, "--name", "two-cities", "--pools", pools, "-o", output)
        #expect(result.status == 0, "\(result.errors)")
        let text = try String(contentsOfFile: output, encoding: .utf8)
        #expect(text.contains("name: two-cities"))
        #expect(text.contains("capacity_gbps: 2.488"))
        #expect(text.contains("attached to the nearest node, Berlin"))
        #expect(text.contains("node: Berlin"))
        let validated = try await junction("topology", "validate", output)
        #expect(validated.status == 0)

        let check = try await junction("topology", "import", "--check", graphml)
        #expect(check.status == 0)
        #expect(check.output.contains("1 of 1 files imported and validated"))
    }

    @Test func importOfAMissingFileFailsClearly() async throws {
        let result = try await junction("topology", "import", "/nonexistent.graphml")
        #expect(result.status != 0)
        #expect(result.errors.contains("/nonexistent.graphml"))
    }
}
