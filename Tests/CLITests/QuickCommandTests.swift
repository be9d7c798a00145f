import Foundation
import Testing

/// `junction` runs the controller client commands itself, linked without Foundation, and hands
/// the rest to `junction-full` (and `bench` to `junction-bench`) beside it.
@Suite("The quick junction executable")
struct QuickCommandTests {
    @Test func itHoldsNoFoundation() async throws {
        // Foundation's loading (and ICU's) is most of a short command's start; FoundationEssentials
        // is all the client commands may use. A Swift symbol of Foundation proper starts "$s10Foundation".
        let symbols = try runTool("/usr/bin/nm", ["--defined-only", try junctionExecutable().path])
        let foundation = symbols.split(separator: "\n").filter { $0.contains("$s10Foundation") }
        #expect(foundation.isEmpty, "junction links Foundation: \(foundation.prefix(5))")
        #expect(symbols.contains("ClientCommands"), "nm listed no symbol of the client commands")
    }

    @Test func clientCommandsRunWithoutTheFullCommandSet() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("junction-quick-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let alone = folder.appendingPathComponent("junction")
        try FileManager.default.copyItem(at: try junctionExecutable(), to: alone)

        // A client command is answered here: no controller listens on port 1.
        let status = try await JunctionProcess(["status", "--controller", "tcp://127.0.0.1:1", "--timeout", "1"], program: alone).finish(within: 30)
        #expect(status.status == 1)
        #expect(status.errors.contains("no answer from the controller at tcp://127.0.0.1:1"), "\(status.errors)")

        // Any other command needs junction-full, and says so.
        let demo = try await JunctionProcess(["demo"], program: alone).finish(within: 30)
        #expect(demo.status == 127)
        #expect(demo.errors.contains("cannot run \(folder.path)/junction-full"), "\(demo.errors)")
        #expect(demo.errors.contains("install it beside junction"), "\(demo.errors)")

        // The benchmarks are a program of their own.
        let bench = try await JunctionProcess(["bench", "zmq"], program: alone).finish(within: 30)
        #expect(bench.status == 127)
        #expect(bench.errors.contains("cannot run \(folder.path)/junction-bench"), "\(bench.errors)")
        #expect(bench.errors.contains("`junction bench` is run by junction-bench"), "\(bench.errors)")
    }

    @Test func otherCommandsAreHandedToTheFullCommandSet() async throws {
        let help = try await junction("--help")
        #expect(help.status == 0)
        for subcommand in ["controller", "pool", "demo", "submit", "place"] {
            #expect(help.output.contains(subcommand), "help lacks \(subcommand)")
        }
        let submitHelp = try await junction("submit", "--help")
        #expect(submitHelp.status == 0)
        #expect(submitHelp.output.contains("USAGE: junction submit"), "\(submitHelp.output)")
        let benchHelp = try await junction("bench", "--help")
        #expect(benchHelp.status == 0)
        #expect(benchHelp.output.contains("USAGE: junction bench <subcommand>"), "\(benchHelp.output)")
    }
}

/// Runs a system tool to its end and returns what it printed.
private func runTool(_ path: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    try #require(process.terminationStatus == 0, "\(path) exited with \(process.terminationStatus)")
    return String(decoding: data, as: UTF8.self)
}
