import Foundation
import Yams
// Numbers and near misses are worded the same by every Junction module and command.
@_exported import Wording

/// Reads values out of a composed YAML tree, collecting a problem (with its line and column) for
/// everything that is not what the format asks for, instead of stopping at the first. Topology
/// files and the daemons' configuration files are read with it.
public struct YAMLReader {
    let file: String
    public var problems: [TopologyProblem] = []

    public init(file: String) {
        self.file = file
    }

    /// The text as a YAML tree, or nil with a problem saying where its syntax breaks (or, for an
    /// empty file, `empty`).
    public mutating func compose(_ text: String, empty: String) -> Yams.Node? {
        do {
            guard let composed = try Yams.compose(yaml: text) else {
                error(.missingKey, at: nil, empty)
                return nil
            }
            return composed
        } catch let error as YamlError {
            reportSyntax(error)
        } catch {
            self.error(.syntax, at: nil, "cannot read the YAML: \(error)")
        }
        return nil
    }

    private mutating func reportSyntax(_ error: YamlError) {
        switch error {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let while_ = context.map { " (\($0.text) at line \($0.mark.line))" } ?? ""
            problems.append(TopologyProblem(.error, .syntax, at: location(mark), "YAML syntax: \(problem)\(while_)"))
        case .duplicatedKeysInMapping(let duplicates, let context):
            problems.append(TopologyProblem(
                .error, .syntax, at: location(context.mark),
                "the key \(duplicates.map { "\"\($0)\"" }.joined(separator: ", ")) appears twice in one mapping; keep one"
            ))
        case .reader(let problem, _, _, _):
            self.error(.syntax, at: nil, "the file is not readable text: \(problem)")
        default:
            self.error(.syntax, at: nil, "YAML: \(error)")
        }
    }

    public var hasErrors: Bool { problems.contains { $0.severity == .error } }

    func location(_ node: Yams.Node?) -> SourceLocation {
        location(node?.mark)
    }

    func location(_ mark: Mark?) -> SourceLocation {
        SourceLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    public mutating func error(_ code: TopologyProblem.Code, at node: Yams.Node?, _ message: String) {
        problems.append(TopologyProblem(.error, code, at: location(node), message))
    }

    mutating func warning(_ code: TopologyProblem.Code, at node: Yams.Node?, _ message: String) {
        problems.append(TopologyProblem(.warning, code, at: location(node), message))
    }

    static func isNull(_ node: Yams.Node) -> Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// How a node is named in a message: its text, or what kind of node it is.
    public static func describe(_ node: Yams.Node) -> String {
        switch node {
        case .scalar(let scalar): "\"\(scalar.string)\""
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    /// The keys of a mapping, each checked against `known`; nil (with a problem) when `node` is
    /// not a mapping. An unknown key is reported with the closest known key as a suggestion.
    public mutating func fields(of node: Yams.Node, _ what: String, known: [String]) -> Fields? {
        guard case .mapping(let mapping) = node else {
            error(.wrongType, at: node, "\(what) must be a mapping of keys to values, found \(Self.describe(node))")
            return nil
        }
        var fields = Fields(node: node)
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key else {
                error(.wrongType, at: key, "\(what) has a key that is not text")
                continue
            }
            let name = scalar.string
            guard known.contains(name) else {
                let hint = closest(to: name, in: known).map { "; did you mean \"\($0)\"?" }
                    ?? "; known keys: \(known.joined(separator: ", "))"
                error(.unknownKey, at: key, "unknown key \"\(name)\" in \(what)\(hint)")
                continue
            }
            if Self.isNull(value) { continue }
            fields.values[name] = (key, value)
        }
        return fields
    }

    public mutating func require(_ fields: Fields, _ key: String, _ what: String) -> Yams.Node? {
        guard let value = fields[key] else {
            error(.missingKey, at: fields.node, "\(what) is missing the required key \"\(key)\"")
            return nil
        }
        return value
    }

    public mutating func string(_ node: Yams.Node, _ what: String) -> String? {
        guard case .scalar(let scalar) = node else {
            error(.wrongType, at: node, "\(what) must be text, found \(Self.describe(node))")
            return nil
        }
        return scalar.string
    }

    /// A finite number. Text with a unit ("8ms", "10 Gbps") gets a message saying to drop it.
    mutating func number(_ node: Yams.Node, _ what: String, unit: String? = nil) -> Double? {
        guard case .scalar(let scalar) = node else {
            error(.wrongType, at: node, "\(what) must be a number, found \(Self.describe(node))")
            return nil
        }
        let text = scalar.string.replacingOccurrences(of: "_", with: "")
        guard let value = Double(text), value.isFinite else {
            let hint = unit.map { "; write the number alone, in \($0)" } ?? ""
            error(.wrongType, at: node, "\(what) must be a number, found \"\(scalar.string)\"\(hint)")
            return nil
        }
        return value
    }

    mutating func nonNegative(_ node: Yams.Node, _ what: String, unit: String? = nil, atMost limit: Double = .infinity) -> Double? {
        guard let value = number(node, what, unit: unit) else { return nil }
        guard value >= 0 else {
            error(.negative, at: node, "\(what) is \(format(value)); it cannot be negative")
            return nil
        }
        return withinLimit(value, node, what, unit: unit, limit)
    }

    mutating func positive(_ node: Yams.Node, _ what: String, unit: String? = nil, atMost limit: Double = .infinity) -> Double? {
        guard let value = number(node, what, unit: unit) else { return nil }
        guard value > 0 else {
            error(.nonPositive, at: node, "\(what) is \(format(value)); it must be above 0")
            return nil
        }
        return withinLimit(value, node, what, unit: unit, limit)
    }

    private mutating func withinLimit(_ value: Double, _ node: Yams.Node, _ what: String, unit: String?, _ limit: Double) -> Double? {
        guard value <= limit else {
            error(.invalidValue, at: node, "\(what) is \(format(value)); it can be at most \(format(limit))\(unit.map { " \($0)" } ?? "")")
            return nil
        }
        return value
    }

    mutating func count(_ node: Yams.Node, _ what: String, atMost limit: Int = Int(Int32.max) - 1) -> Int? {
        guard let value = nonNegative(node, what, atMost: Double(limit)) else { return nil }
        guard value == value.rounded() else {
            error(.wrongType, at: node, "\(what) must be a whole number, found \(format(value))")
            return nil
        }
        return Int(value)
    }

    mutating func list(_ node: Yams.Node, _ what: String) -> [Yams.Node]? {
        guard case .sequence(let sequence) = node else {
            error(.wrongType, at: node, "\(what) must be a list, found \(Self.describe(node))")
            return nil
        }
        return Array(sequence)
    }

    /// A mapping from text to text, such as labels. Keys are in file order.
    mutating func stringMap(_ node: Yams.Node, _ what: String) -> [(key: Yams.Node, name: String, value: Yams.Node)]? {
        guard case .mapping(let mapping) = node else {
            error(.wrongType, at: node, "\(what) must be a mapping, found \(Self.describe(node))")
            return nil
        }
        var entries: [(key: Yams.Node, name: String, value: Yams.Node)] = []
        for (key, value) in mapping {
            guard let name = string(key, "a key of \(what)") else { continue }
            entries.append((key, name, value))
        }
        return entries
    }

    mutating func labels(_ node: Yams.Node, _ what: String) -> [String: String] {
        var labels: [String: String] = [:]
        for entry in stringMap(node, what) ?? [] {
            if let value = string(entry.value, "label \"\(entry.name)\" of \(what)") { labels[entry.name] = value }
        }
        return labels
    }
}

/// The present keys of one YAML mapping.
/// The known keys a mapping holds, each with its node.
public struct Fields {
    public let node: Yams.Node
    var values: [String: (key: Yams.Node, value: Yams.Node)] = [:]

    public subscript(key: String) -> Yams.Node? { values[key]?.value }
}

func format(_ value: Double) -> String { compactNumber(value) }
