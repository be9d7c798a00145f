import ClientCommands
import Foundation
import Topology

/// Loads a topology for a command, printing every problem and failing when there are errors.
public func loadTopology(_ file: String, quiet: Bool = false, maximumBytes: Int = Topology.defaultMaximumBytes) throws -> Topology {
    do {
        let loaded = try Topology.load(contentsOf: file, maximumBytes: maximumBytes)
        if !quiet { for warning in loaded.warnings { printError(warning.description) } }
        return loaded.topology
    } catch {
        for problem in error.problems { printError(problem.description) }
        throw CommandFailure("\(file) is not a valid topology (\(error.errors.count) \(error.errors.count == 1 ? "error" : "errors")); `junction topology validate \(file)` lists them")
    }
}

/// A progress bar on standard error: redrawn in place on a terminal, a line per tenth otherwise.
public struct ProgressBar {
    public let label: String
    private let terminal = isatty(STDERR_FILENO) == 1
    private var shownTenths = 0
    private let started = Date()
    public let quiet: Bool

    public init(_ label: String, quiet: Bool) {
        self.label = label
        self.quiet = quiet
    }

    public mutating func update(_ done: Double) {
        guard !quiet else { return }
        let share = min(1, max(0, done))
        if terminal {
            let filled = Int(share * 30)
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: 30 - filled)
            FileHandle.standardError.write(Data(String(format: "\r  %@ %@ %3.0f%% %5.1f s", label, bar, share * 100, Date().timeIntervalSince(started)).utf8))
        } else if Int(share * 10) > shownTenths {
            shownTenths = Int(share * 10)
            printError(String(format: "  %@ %3.0f%%", label, share * 100))
        }
    }

    public func finish(_ summary: String) {
        guard !quiet else { return }
        if terminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        printError(String(format: "  %@ %@ in %.1f s", label, summary, Date().timeIntervalSince(started)))
    }
}
