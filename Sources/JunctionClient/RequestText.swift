import Wire

// The request syntax a command line writes, turned into what the wire carries.

/// The GPUs a request asks for, as a command line writes them: `MODEL[,MODEL...]:COUNT` (any of
/// those models), or `COUNT` (any model).
public struct GPUAsk: Sendable, Hashable {
    public var count: Int
    /// The models that will do; empty for any.
    public var models: [String]

    /// Nil when the text is neither form, or the count is not 0 to 1,000,000.
    public init?(parsing text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        let countText: Substring
        if parts.count == 1 {
            countText = parts[0]
            models = []
        } else if parts.count == 2, !parts[0].isEmpty {
            countText = parts[1]
            models = parts[0].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard !models.isEmpty, models.allSatisfy({ !$0.isEmpty }) else { return nil }
        } else {
            return nil
        }
        guard let count = Int(countText), (0...1_000_000).contains(count) else { return nil }
        self.count = count
    }
}

extension Junction_V1_LabelConstraint {
    /// Parses `KEY=VALUE`, `KEY=A|B` (one of), `KEY!=A|B` (none of); nil for anything else.
    public init?(parsing text: String) {
        self.init()
        let key: Substring
        let values: Substring
        if let bang = text.firstRange(of: "!=") {
            (key, values) = (text[..<bang.lowerBound], text[bang.upperBound...])
            self.operator = .notIn
        } else if let equals = text.firstIndex(of: "=") {
            (key, values) = (text[..<equals], text[text.index(after: equals)...])
        } else {
            return nil
        }
        self.key = String(key)
        self.values = values.split(separator: "|").map(String.init)
        if self.operator != .notIn { self.operator = self.values.count > 1 ? .in : .equals }
        if key.isEmpty || self.values.isEmpty { return nil }
    }
}
