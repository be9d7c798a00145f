import ArgumentParser
import Wording

/// A command that could not do its job; the message says what happened and what to do next.
public struct CommandFailure: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Checks numeric options, each named: finite and within its range (a least above 0 means "above
/// 0"). NaN is not "negative", and a value past any real machine is a typo. Absent ones pass.
public func checkRanges(_ options: [(option: String, value: Double?, least: Double, most: Double)]) throws {
    for (option, value, least, most) in options {
        guard let value else { continue }
        guard value.isFinite, value >= least, value <= most else {
            // A tiny least bound stands for "above 0".
            let range = least > 0 && least < 1 ? "above 0 and at most \(compactNumber(most))" : "a number from \(compactNumber(least)) to \(compactNumber(most))"
            throw ValidationError("\(option) must be \(range), not \(compactNumber(value))")
        }
    }
}

/// A `--timeout` in seconds: above 0 and at most a day, so that it always makes a `Duration`.
public func checkTimeout(_ seconds: Double) throws {
    try checkRanges([("--timeout", seconds, .leastNonzeroMagnitude, 86_400)])
}
