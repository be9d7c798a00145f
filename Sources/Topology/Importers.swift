import Foundation

/// Choices an importer makes where the source data is silent.
public struct ImportOptions: Sendable {
    /// Capacity for links whose speed the source does not give.
    public var defaultCapacityGbps: Double = 10
    /// Latency for links with an end that has no coordinates.
    public var defaultLatencyMs: Double = 1
    public var propagationKmPerMs: Double = 200

    public init(defaultCapacityGbps: Double = 10, defaultLatencyMs: Double = 1, propagationKmPerMs: Double = 200) {
        self.defaultCapacityGbps = defaultCapacityGbps
        self.defaultLatencyMs = defaultLatencyMs
        self.propagationKmPerMs = propagationKmPerMs
    }
}

/// A topology made from another format, with what the importer had to decide on its own.
public struct ImportedTopology: Sendable {
    public var topology: Topology
    /// Lines for people: how many links took a default, what was dropped and why.
    public var notes: [String]
    public var linksWithDefaultCapacity: Int
    public var linksWithDefaultLatency: Int
}

/// Why a file could not be imported at all.
public struct ImportError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var message: String

    public var description: String {
        "\(file)\(line.map { ":\($0)" } ?? ""): error: \(message)"
    }
}

/// Turns free text into an id the format accepts: letters, digits and `._:-`, others as `_`.
func identifier(from text: String, fallback: String) -> String {
    var id = ""
    var lastWasUnderscore = false
    for scalar in text.unicodeScalars {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", ".", ":", "-":
            id.unicodeScalars.append(scalar)
            lastWasUnderscore = false
        default:
            if !lastWasUnderscore, !id.isEmpty { id += "_" }
            lastWasUnderscore = true
        }
    }
    while id.hasSuffix("_") { id.removeLast() }
    return id.isEmpty ? fallback : String(id.prefix(120))
}

/// Makes ids unique by appending -2, -3, ...
struct UniqueIDs {
    private var used: Set<String> = []

    mutating func claim(_ id: String) -> String {
        var candidate = id
        var ordinal = 2
        while used.contains(candidate) {
            candidate = "\(id)-\(ordinal)"
            ordinal += 1
        }
        used.insert(candidate)
        return candidate
    }
}

/// Reads a link speed out of the free-text labels the Topology Zoo uses ("OC-192c",
/// "45 Mbps DS-3", "1-2.5 Gb/s", "2x10Gb/s", "STM-64x2", "GigE"); nil when it names none.
public func linkSpeedGbps(fromLabel label: String) -> Double? {
    let text = label.lowercased()
    var multiplier = 1.0
    if let match = text.firstMatch(of: /(?:^|\s)(\d+)\s*x\s*(?=\d|oc|stm)/) {
        multiplier = Double(match.1) ?? 1
    } else if let match = text.firstMatch(of: /(?:oc|stm)-?\d+c?\s*x\s*(\d+)/) {
        multiplier = Double(match.1) ?? 1
    }
    if let match = text.firstMatch(of: /\boc-?\s?(\d+)/), let n = Double(match.1) {
        return multiplier * n * 0.05184
    }
    if let match = text.firstMatch(of: /\bstm-?\s?(\d+)/), let n = Double(match.1) {
        return multiplier * n * 0.15552
    }
    // A number with a unit; in a range ("1-20Gbps", "300M-1Gb/s") the lower end counts.
    if let match = text.firstMatch(of: /(\d+(?:\.\d+)?)\s*([kmgt])?\s*(?:-|–|to)\s*(\d+(?:\.\d+)?)\s*([kmgt])(?:b|bit|e\b|ige)?/) {
        let unit = match.2.map(String.init) ?? String(match.4)
        if let low = Double(match.1), let scale = unitScale(unit) { return multiplier * low * scale }
    }
    if let match = text.firstMatch(of: /(\d+(?:\.\d+)?)\s*([kmgt])(?:b\/s|bps|bit|b\b|bits|e\b|ige|\b)/),
       let value = Double(match.1), let scale = unitScale(String(match.2)) {
        return multiplier * value * scale
    }
    let named: [(Regex<Substring>, Double)] = [
        (/\b(?:ds-?3|t-?3)\b/, 0.044736), (/\b(?:ds-?1|t-?1)\b/, 0.001544),
        (/\be-?3\b/, 0.034368), (/\be-?1\b/, 0.002048),
        (/\b(?:gige|ge|gbe|gigabit)\b/, 1), (/\b10\s?ge\b/, 10), (/fast ethernet/, 0.1),
    ]
    for (pattern, gbps) in named where text.contains(pattern) {
        return multiplier * gbps
    }
    return nil
}

private func unitScale(_ unit: String) -> Double? {
    switch unit {
    case "k": 1e-6
    case "m": 1e-3
    case "g": 1
    case "t": 1_000
    default: nil
    }
}
