import Glibc
import Wording
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// How the command line prints: tables, numbers, JSON, paths and times, in one place.

/// Prints a line to standard error.
public func printError(_ text: String) {
    let line = text + "\n"
    _ = line.utf8CString.withUnsafeBufferPointer { Glibc.write(2, $0.baseAddress, $0.count - 1) }
}

/// Encodes a value as key-sorted JSON text: pretty, or on one line for streams of objects.
public func jsonText(_ value: some Encodable, oneLine: Bool = false) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = oneLine ? [.sortedKeys, .withoutEscapingSlashes] : [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

/// GPUs by model, "2×A100 1×H100": after a comma and "GPUs" (`leading`), or alone ("-" for none).
public func gpuText(_ gpus: [String: Int], leading: Bool = true) -> String {
    guard !gpus.isEmpty else { return leading ? "" : "-" }
    let text = gpus.sorted { $0.key < $1.key }.map { "\($0.value)×\($0.key)" }.joined(separator: " ")
    return leading ? ", GPUs \(text)" : text
}

/// A number for people: up to three decimals, no trailing zeros.
public func decimal(_ value: Double) -> String { compactNumber(value) }

/// A CSV field, quoted when it holds a comma, a quote or a line break.
public func csvField(_ text: String) -> String {
    text.contains(where: { ",\"\n".contains($0) }) ? "\"" + text.replacing("\"", with: "\"\"") + "\"" : text
}

/// Left-aligned columns with a header row.
public func table(header: [String], rows: [[String]], indent: String = "") -> String {
    // Cells may hold what others wrote (job names, commands, messages quoting a job's output).
    let rows = rows.map { $0.map(printableText) }
    var widths = header.map(\.count)
    for row in rows {
        for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
    }
    func line(_ cells: [String]) -> String {
        indent + cells.enumerated().map { index, cell in
            index == cells.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count)
        }.joined(separator: "  ")
    }
    return ([line(header)] + rows.map(line)).joined(separator: "\n")
}

/// The wall clock in Unix milliseconds.
public func unixNowMs() -> Int64 { Int64((Date().timeIntervalSince1970 * 1_000).rounded()) }

/// When a planned start comes, from now: "in 2 min", or "due" once it has passed.
public func startsIn(_ startMs: Int64, nowMs: Int64) -> String {
    let seconds = Double(startMs - nowMs) / 1_000
    return seconds <= 0 ? "due" : "in \(duration(seconds))"
}

/// A byte count for people.
public func bytesText(_ bytes: UInt64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1_024, unit < units.count - 1 {
        value /= 1_024
        unit += 1
    }
    return unit == 0 ? "\(bytes) B" : "\(decimal(value)) \(units[unit])"
}

/// "A → B → C", or the node alone when the pool sits at the ingress.
public func arrowPath(_ nodes: [String]) -> String {
    nodes.joined(separator: " → ")
}

/// A word as a shell would need it written.
public func shellQuoted(_ word: String) -> String {
    let plain = word.allSatisfy { $0.isLetter || $0.isNumber || "-_./:=@,+".contains($0) }
    return plain && !word.isEmpty ? word : "'" + word.replacing("'", with: "'\\''") + "'"
}
