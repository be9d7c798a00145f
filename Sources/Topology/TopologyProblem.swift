/// One thing wrong with (or worth knowing about) a topology file, with where it is.
public struct TopologyProblem: Error, Sendable, Hashable, CustomStringConvertible {
    /// Whether the problem stops the file from loading.
    public enum Severity: String, Sendable, Hashable {
        case error, warning
    }

    /// The kinds of problem, for tests and tools.
    public enum Code: String, Sendable, Hashable {
        case syntax
        case unknownKey = "unknown_key"
        case missingKey = "missing_key"
        case wrongType = "wrong_type"
        case invalidValue = "invalid_value"
        case invalidID = "invalid_id"
        case duplicateID = "duplicate_id"
        case unknownNode = "unknown_node"
        case selfLoop = "self_loop"
        case nonPositive = "non_positive"
        case negative
        case missingLatency = "missing_latency"
        case coordinatesOutOfRange = "coordinates_out_of_range"
        case disconnected
        case fasterThanLight = "faster_than_light"
        case unusedPrice = "unused_price"
    }

    public var severity: Severity
    public var code: Code
    public var location: SourceLocation
    /// What is wrong and what to change.
    public var message: String

    public init(_ severity: Severity, _ code: Code, at location: SourceLocation, _ message: String) {
        self.severity = severity
        self.code = code
        self.location = location
        self.message = message
    }

    /// `file:line:column: error: message`, the form compilers use, so editors can jump to it.
    public var description: String { "\(location): \(severity.rawValue): \(message)" }
}

/// A topology file that cannot be loaded, with every problem found in it.
public struct TopologyErrors: Error, Sendable, CustomStringConvertible {
    /// Errors first, in file order, then warnings.
    public var problems: [TopologyProblem]

    public var errors: [TopologyProblem] { problems.filter { $0.severity == .error } }

    public var description: String { problems.map(\.description).joined(separator: "\n") }

    public init(problems: [TopologyProblem]) {
        self.problems = problems
    }
}

/// A topology that loaded, with the warnings found on the way.
public struct LoadedTopology: Sendable {
    public var topology: Topology
    public var warnings: [TopologyProblem]
}

/// The closest of `candidates` to `word` by edit distance, when it is close enough to be a
/// likely typo.
func closest(to word: String, in candidates: some Sequence<String>) -> String? {
    let lowered = word.lowercased(), length = word.count, loweredLength = lowered.count
    let allowed = max(1, length / 3), suffixed = lowered + "_"
    var best: (String, Int)?
    for candidate in candidates {
        let candidateLowered = candidate.lowercased()
        // "latency" for "latency_ms": the unit suffix is the usual thing left out.
        if candidateLowered.hasPrefix(suffixed) { return candidate }
        // Words whose lengths differ by more than the distance allowed cannot be close, and
        // skipping them keeps a long word from outside (a request's ingress) cheap to answer.
        guard abs(candidateLowered.count - loweredLength) <= allowed else { continue }
        let distance = editDistance(lowered, candidateLowered)
        if distance < (best?.1 ?? Int.max) { best = (candidate, distance) }
    }
    guard let (candidate, distance) = best else { return nil }
    return distance <= allowed && distance < length ? candidate : nil
}
