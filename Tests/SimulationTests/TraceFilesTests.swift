import Foundation
import Simulation
import Testing

@Suite("Trace files")
struct TraceFilesTests {
    private func scratch() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("junction-trace-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    @Test func plainAndGzippedTracesReadTheSameAndErrorsNameTheFile() throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let text = "job,submit\n1,0\n2,5\n"
        try text.write(toFile: "\(folder)/trace.csv", atomically: true, encoding: .utf8)
        try text.write(toFile: "\(folder)/packed.csv", atomically: true, encoding: .utf8)
        let gzip = Process()
        gzip.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        gzip.arguments = ["gzip", "\(folder)/packed.csv"]
        try gzip.run()
        gzip.waitUntilExit()
        try #require(gzip.terminationStatus == 0, "gzip is needed for this test")
        #expect(try TraceFiles.readText("\(folder)/trace.csv") == text)
        #expect(try TraceFiles.readText("\(folder)/packed.csv.gz") == text)

        #expect { try TraceFiles.readText("\(folder)/missing.csv") } throws: { error in
            (error as? TraceFileError)?.description.hasPrefix("cannot read \(folder)/missing.csv") == true
        }
        try "not gzip at all".write(toFile: "\(folder)/broken.csv.gz", atomically: true, encoding: .utf8)
        #expect { try TraceFiles.readText("\(folder)/broken.csv.gz") } throws: { error in
            (error as? TraceFileError)?.description.contains("gzip could not decompress \(folder)/broken.csv.gz") == true
        }
    }

    @Test func aReportGoesIntoAFolderMadeForIt() throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try TraceFiles.write("\(folder)/out/run-1/report.json", "{}\n")
        #expect(try String(contentsOfFile: "\(folder)/out/run-1/report.json", encoding: .utf8) == "{}\n")
        try "a file".write(toFile: "\(folder)/blocker", atomically: true, encoding: .utf8)
        #expect(throws: TraceFileError.self) { try TraceFiles.write("\(folder)/blocker/report.json", "{}") }
    }
}
