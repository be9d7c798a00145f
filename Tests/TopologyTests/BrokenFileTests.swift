import Foundation
import Testing
import Topology

/// The test corpus of broken files; each ends with `# expect: line:column severity code` lines.
let brokenDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Broken")

let brokenFiles: [String] = {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: brokenDirectory.path)) ?? []
    return names.filter { $0.hasSuffix(".yaml") }.sorted()
}()

@Suite("Broken topology files")
struct BrokenFileTests {
    @Test func aDirectoryOrAnOversizedFileIsRefusedBeforeParsing() throws {
        #expect(throws: TopologyErrors.self) { try Topology.load(contentsOf: brokenDirectory.path) }
        do {
            _ = try Topology.load(contentsOf: brokenDirectory.path)
        } catch {
            #expect(error.problems.first?.message == "this is a directory, not a topology file")
        }
        let file = try #require(brokenFiles.first)
        do {
            _ = try Topology.load(contentsOf: brokenDirectory.appendingPathComponent(file).path, maximumBytes: 10)
            Issue.record("a file over the limit was read")
        } catch {
            #expect(error.problems.first?.message.contains("above the 10-byte limit for a topology file") == true)
        }
    }

    @Test func theCorpusCoversEveryKindOfProblem() throws {
        var codes: Set<String> = []
        for file in brokenFiles {
            let text = try String(contentsOf: brokenDirectory.appendingPathComponent(file), encoding: .utf8)
            for line in text.split(separator: "\n") where line.hasPrefix("# expect: ") {
                codes.insert(String(line.split(separator: " ").last!))
            }
        }
        let all: [TopologyProblem.Code] = [
            .syntax, .unknownKey, .missingKey, .wrongType, .invalidValue, .invalidID, .duplicateID,
            .unknownNode, .selfLoop, .nonPositive, .negative, .missingLatency, .coordinatesOutOfRange,
            .disconnected, .fasterThanLight, .unusedPrice,
        ]
        #expect(codes == Set(all.map(\.rawValue)))
    }

    @Test(arguments: brokenFiles)
    func problemsAreReportedWhereTheyAre(file: String) throws {
        let path = brokenDirectory.appendingPathComponent(file).path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let expected = text.split(separator: "\n")
            .filter { $0.hasPrefix("# expect: ") }
            .map { $0.dropFirst("# expect: ".count) }
            .map(String.init)
        try #require(!expected.isEmpty, "\(file) states no expectation")

        let problems: [TopologyProblem]
        let loaded: Bool
        do {
            problems = try Topology.load(yaml: text, file: file).warnings
            loaded = true
        } catch {
            problems = error.problems
            loaded = false
        }
        let found = problems.map { "\($0.location.line):\($0.location.column) \($0.severity.rawValue) \($0.code.rawValue)" }
        #expect(found == expected)
        #expect(problems.allSatisfy { $0.location.file == file })
        // A file with an error never loads; one with only warnings does.
        #expect(loaded == !expected.contains { $0.contains(" error ") })
        for problem in problems {
            #expect(problem.description.hasPrefix("\(file):\(problem.location.line):\(problem.location.column): \(problem.severity.rawValue): "))
        }
    }

    @Test func messagesSayWhatToChange() throws {
        let text = try String(contentsOf: brokenDirectory.appendingPathComponent("unknown-keys.yaml"), encoding: .utf8)
        let error = try #require(throws: TopologyErrors.self) { try Topology.load(yaml: text, file: "t.yaml") }
        let messages = error.problems.map(\.message)
        #expect(messages.contains("unknown key \"labls\" in a node; did you mean \"labels\"?"))
        #expect(messages.contains("unknown key \"latency\" in a link; did you mean \"latency_ms\"?"))
        #expect(messages.contains { $0.contains("\"capacity_gpbs\"") && $0.contains("\"capacity_gbps\"") })
    }

    @Test func aPoolsNumbersHaveTheLimitsItsAgentHas() throws {
        let text = try String(contentsOf: brokenDirectory.appendingPathComponent("out-of-range.yaml"), encoding: .utf8)
        let error = try #require(throws: TopologyErrors.self) { try Topology.load(yaml: text, file: "t.yaml") }
        let messages = error.problems.map(\.message)
        #expect(messages.contains("memory_gib of pool \"p\" is 1e+20; it can be at most 1073741824 GiB"), "\(messages)")
        #expect(messages.contains("cpu_cores of pool \"p\" is 20000000; it can be at most 10000000"), "\(messages)")
    }

    @Test func anEmptyFileIsAnError() {
        let error = #expect(throws: TopologyErrors.self) { try Topology.load(yaml: "", file: "empty.yaml") }
        #expect(error?.problems.first?.code == .missingKey)
    }

    @Test func aMissingFileIsAnError() {
        let error = #expect(throws: TopologyErrors.self) { try Topology.load(contentsOf: "/nonexistent/topology.yaml") }
        #expect(error?.problems.first?.location.file == "/nonexistent/topology.yaml")
    }

    @Test func randomTextNeverCrashes() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("name: nodes links pools - id [ ] { } : , \n 0 1 2 . \" ' # & * ! | > % @ `ü")
        for _ in 0..<2_000 {
            let text = String((0..<Int.random(in: 0...120, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
            _ = try? Topology.load(yaml: text, file: "random.yaml")
        }
    }
}
