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

    /// Starts `junction` (or `program`) with `arguments`; with `descriptorLimit`, under that many
    /// file descriptors (hard and soft, so the process cannot raise it).
    init(_ arguments: [String], descriptorLimit: Int? = nil, program: URL? = nil, environment: [String: String] = [:]) throws {
        let directory = FileManager.default.temporaryDirectory
        outputFile = directory.appendingPathComponent("junction-\(UUID().uuidString).out")
        errorFile = directory.appendingPathComponent("junction-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: outputFile.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        if let descriptorLimit {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "ulimit -n \(descriptorLimit) && exec \"$0\" \"$@\"", try junctionExecutable().path] + arguments
        } else {
            process.executableURL = try program ?? junctionExecutable()
            process.arguments = arguments
        }
        process.standardOutput = try FileHandle(forWritingTo: outputFile)
        process.standardError = try FileHandle(forWritingTo: errorFile)
        process.standardInput = FileHandle.nullDevice
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, given in given }
        }
        try process.run()
    }

    /// What the process has printed so far.
    var outputSoFar: String { (try? String(contentsOf: outputFile, encoding: .utf8)) ?? "" }
    var errorsSoFar: String { (try? String(contentsOf: errorFile, encoding: .utf8)) ?? "" }

    /// Waits until the output holds `text`, or fails after `seconds`.
    func waitForOutput(_ text: String, within seconds: Double = 20) async throws -> String {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let output = outputSoFar
            if output.contains(text) { return output }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw ProcessWaitError(description: "no \"\(text)\" from junction \(process.arguments ?? []) within \(seconds) s; output: \(outputSoFar) errors: \(errorsSoFar)")
    }

    /// Seconds of CPU the process has used, user and system, from /proc.
    var cpuSeconds: Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return 0 }
        // After the command name: state is field 3, utime 14 and stime 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// The process's resident memory in MiB, from /proc; 0 once it has exited.
    var residentMiB: Double {
        guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kibibytes = Double(line.split(separator: " ")[1]) else { return 0 }
        return kibibytes / 1024
    }

    /// Sends a signal to the process.
    func signal(_ number: Int32) {
        if process.isRunning { kill(process.processIdentifier, number) }
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

/// A process did not print what a test waited for.
struct ProcessWaitError: Error, CustomStringConvertible {
    let description: String
}
