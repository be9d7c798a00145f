import Foundation
import Testing

/// The built `junction` executable, next to this test bundle.
func junctionExecutable() throws -> URL {
    let here = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    let candidate = here.appendingPathComponent("junction")
    try #require(FileManager.default.isExecutableFile(atPath: candidate.path), "no junction executable at \(candidate.path)")
    return candidate
}

/// What a finished `junction` process printed and how it exited.
struct Finished {
    let status: Int32
    let output: String
    let errors: String
}

/// A `junction` process the test started; `finish` waits for it within a bound and kills it if
/// the bound runs out, so no test leaves a process behind.
final class JunctionProcess {
    let process = Process()
    private let outputFile: URL
    private let errorFile: URL

    init(_ arguments: [String]) throws {
        let directory = FileManager.default.temporaryDirectory
        outputFile = directory.appendingPathComponent("junction-\(UUID().uuidString).out")
        errorFile = directory.appendingPathComponent("junction-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: outputFile.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        process.executableURL = try junctionExecutable()
        process.arguments = arguments
        process.standardOutput = try FileHandle(forWritingTo: outputFile)
        process.standardError = try FileHandle(forWritingTo: errorFile)
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    func finish(within seconds: Double) async throws -> Finished {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning, Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let timedOut = process.isRunning
        if timedOut {
            process.terminate()
            try await Task.sleep(for: .milliseconds(200))
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        process.waitUntilExit()
        let output = (try? String(contentsOf: outputFile, encoding: .utf8)) ?? ""
        let errors = (try? String(contentsOf: errorFile, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(at: outputFile)
        try? FileManager.default.removeItem(at: errorFile)
        if timedOut {
            Issue.record("junction \(process.arguments ?? []) did not finish within \(seconds) s; output: \(output) \(errors)")
        }
        return Finished(status: process.terminationStatus, output: output, errors: errors)
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// Runs `junction` with the arguments and waits for it to end.
func junction(_ arguments: String..., within seconds: Double = 30) async throws -> Finished {
    try await JunctionProcess(arguments).finish(within: seconds)
}
