import Foundation

/// The C pool agent (Sources/junction-advertiser), built with its Makefile and the system's C
/// compiler, warnings as errors. When the compiler or libprotobuf-c-dev is missing, `build`
/// throws saying what to install: a test that needs it fails, it never passes without it.
public enum CAdvertiser {
    static let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/junction-advertiser").path

    /// Builds the advertiser into `directory` and returns the binary's path.
    public static func build(into directory: String) throws -> String {
        let binary = directory + "/junction-advertiser"
        _ = try runProgram(["/usr/bin/env", "make", "--no-print-directory", "-C", source, "OUT=\(binary)"])
        return binary
    }
}
