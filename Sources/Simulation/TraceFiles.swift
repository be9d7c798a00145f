import Foundation

/// Reading trace files and writing reports: the file handling `junction simulate` needs, with
/// errors that name the file.
public enum TraceFiles {
    /// Decompressors for the suffixes the Parallel Workloads Archive and others ship traces with.
    static let decompressors = [".gz": "gzip", ".xz": "xz", ".zst": "zstd"]

    /// A trace file's text, whole; a compressed one (.gz, .xz, .zst) read through the system's
    /// decompressor.
    public static func readText(_ path: String) throws(TraceFileError) -> String {
        guard FileManager.default.isReadableFile(atPath: path) else { throw TraceFileError("cannot read \(path): no such readable file", missing: true) }
        guard let (_, tool) = decompressors.first(where: { path.hasSuffix($0.key) }) else {
            do {
                return try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw TraceFileError("cannot read \(path): \(error.localizedDescription)")
            }
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool, "-dc", path]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        do {
            try process.run()
        } catch {
            throw TraceFileError("cannot start \(tool) to read \(path): \(error.localizedDescription)")
        }
        // Read before waiting, so a large file cannot fill the pipe and stall the decompressor.
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let complaint = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let detail = complaint.trimmingCharacters(in: .whitespacesAndNewlines)
            throw TraceFileError("\(tool) could not decompress \(path)\(detail.isEmpty ? "" : ": " + detail) (is \(tool) installed?)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// A trace file parsed, a parse error naming the file.
    public static func read<Value>(_ path: String, _ parse: (String) throws(TraceError) -> Value) throws(TraceFileError) -> Value {
        let text = try readText(path)
        do {
            return try parse(text)
        } catch {
            throw TraceFileError("\(path): \(error)")
        }
    }

    /// Writes a report file, creating its folder.
    public static func write(_ path: String, _ text: String) throws(TraceFileError) {
        let url = URL(fileURLWithPath: path)
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        } catch {
            throw TraceFileError("cannot write \(path): \(error.localizedDescription)")
        }
    }
}

/// A trace or report file that could not be read, parsed or written.
public struct TraceFileError: Error, CustomStringConvertible {
    public let description: String
    /// Whether the file is not there (or not readable) at all.
    public let missing: Bool

    public init(_ description: String, missing: Bool = false) {
        self.description = description
        self.missing = missing
    }
}
