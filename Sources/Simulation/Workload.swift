import Foundation
import Placement
import Topology

/// A scenario option that could not be understood, with what was expected.
public struct ScenarioError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// Where jobs enter the network: nodes with weights, drawn in proportion.
public struct IngressWeights: Sendable, Hashable {
    public private(set) var nodes: [String]
    private var cumulative: [Double]

    /// Every node equally.
    public init(uniformOver nodes: [String]) {
        self.init(weights: nodes.map { ($0, 1) })
    }

    /// Nodes with weights; a node named twice adds up.
    public init(weights: [(node: String, weight: Double)]) {
        var total = 0.0
        nodes = []
        cumulative = []
        for (node, weight) in weights where weight > 0 {
            total += weight
            nodes.append(node)
            cumulative.append(total)
        }
    }

    /// Weights given as `name=weight`, where a name is a node or a region of `topology`; a region's
    /// weight is shared evenly by its nodes. Nodes and regions not named get nothing.
    public static func parse(_ terms: [String], in topology: Topology) throws(ScenarioError) -> IngressWeights {
        var weights: [(node: String, weight: Double)] = []
        for term in terms {
            let parts = term.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let name = parts[0]
            guard !name.isEmpty else { throw ScenarioError("ingress \"\(term)\": name a node or a region, as NAME or NAME=WEIGHT") }
            let weight: Double
            if parts.count == 2 {
                guard let value = Double(parts[1]), value.isFinite, value >= 0 else {
                    throw ScenarioError("ingress weight \"\(term)\": the weight must be a number at least 0")
                }
                weight = value
            } else {
                weight = 1
            }
            if topology.node(name) != nil {
                weights.append((name, weight))
                continue
            }
            let members = topology.nodes.filter { $0.region == name }.map(\.id)
            guard !members.isEmpty else {
                let regions = Set(topology.nodes.compactMap(\.region)).sorted()
                let known = regions.isEmpty ? "it declares no regions" : "its regions are \(regions.joined(separator: ", "))"
                throw ScenarioError("ingress \"\(name)\" is neither a node nor a region of \(topology.name); \(known)")
            }
            weights += members.map { ($0, weight / Double(members.count)) }
        }
        let result = IngressWeights(weights: weights)
        guard !result.nodes.isEmpty else { throw ScenarioError("the ingress weights add up to 0") }
        return result
    }

    /// One node, in proportion to its weight.
    public func draw(using generator: inout some RandomNumberGenerator) -> String {
        guard let total = cumulative.last else { return "" }
        let point = Double.random(in: 0..<total, using: &generator)
        var low = 0
        var high = cumulative.count - 1
        while low < high {
            let middle = (low + high) / 2
            if cumulative[middle] > point { high = middle } else { low = middle + 1 }
        }
        return nodes[low]
    }
}

/// How much input data a job brings when its trace does not say, in bytes.
public enum DataSize: Sendable, Hashable, CustomStringConvertible {
    case fixed(Double)
    case uniform(Double, Double)
    case exponential(mean: Double)
    /// Log-normal with the given median and the standard deviation of its logarithm.
    case logNormal(median: Double, sigma: Double)

    /// Reads `10`, `fixed:10`, `uniform:1-100`, `exp:20` or `lognormal:10,1.5`, sizes in GB.
    public static func parse(_ text: String) throws(ScenarioError) -> DataSize {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let kind = parts.count == 2 ? parts[0] : "fixed"
        let arguments = parts.count == 2 ? parts[1] : parts[0]
        func numbers(_ separator: Character, _ count: Int) throws(ScenarioError) -> [Double] {
            let values = arguments.split(separator: separator).compactMap { Double($0) }
            guard values.count == count, values.allSatisfy({ $0.isFinite && $0 >= 0 && $0 <= largestBytes / 1e9 }) else {
                throw ScenarioError("data size \"\(text)\": expected \(kind) with \(count) number\(count == 1 ? "" : "s") from 0 to \(compactNumber(largestBytes / 1e9)) (fixed:10, uniform:1-100, exp:20, lognormal:10,1.5; GB)")
            }
            return values
        }
        switch kind {
        case "fixed":
            return .fixed(try numbers(",", 1)[0] * 1e9)
        case "uniform":
            let bounds = try numbers("-", 2)
            guard bounds[0] <= bounds[1] else { throw ScenarioError("data size \"\(text)\": the lower bound is above the upper") }
            return .uniform(bounds[0] * 1e9, bounds[1] * 1e9)
        case "exp":
            return .exponential(mean: try numbers(",", 1)[0] * 1e9)
        case "lognormal":
            let values = try numbers(",", 2)
            guard values[1] <= 10 else { throw ScenarioError("data size \"\(text)\": σ must be at most 10, not \(compactNumber(values[1]))") }
            return .logNormal(median: values[0] * 1e9, sigma: values[1])
        default:
            throw ScenarioError("data size \"\(text)\": \(kind) is not fixed, uniform, exp or lognormal")
        }
    }

    /// The most input a job is given, in bytes: an exponential's or a log-normal's tail is cut
    /// there, so that a size is always a number a request can carry.
    public static let largestBytes = PlacementEngine.limits.dataBytes

    /// One size, in bytes.
    public func draw(using generator: inout some RandomNumberGenerator) -> Double {
        min(unbounded(using: &generator), Self.largestBytes)
    }

    private func unbounded(using generator: inout some RandomNumberGenerator) -> Double {
        switch self {
        case .fixed(let bytes):
            return bytes
        case .uniform(let low, let high):
            return low == high ? low : Double.random(in: low...high, using: &generator)
        case .exponential(let mean):
            return -mean * log(1 - Double.random(in: 0..<1, using: &generator))
        case .logNormal(let median, let sigma):
            // Box–Muller: one standard normal from two uniforms.
            let u = 1 - Double.random(in: 0..<1, using: &generator)
            let v = Double.random(in: 0..<1, using: &generator)
            return median * exp(sigma * sqrt(-2 * log(u)) * cos(2 * .pi * v))
        }
    }

    public var description: String {
        switch self {
        case .fixed(let bytes): "\(compactNumber(bytes / 1e9)) GB"
        case .uniform(let low, let high): "uniform \(compactNumber(low / 1e9))–\(compactNumber(high / 1e9)) GB"
        case .exponential(let mean): "exponential, mean \(compactNumber(mean / 1e9)) GB"
        case .logNormal(let median, let sigma): "log-normal, median \(compactNumber(median / 1e9)) GB, σ \(compactNumber(sigma))"
        }
    }
}

/// A pool or link that fails at a time, and may come back.
public struct Failure: Sendable, Hashable, CustomStringConvertible {
    /// What fails.
    public enum Target: Sendable, Hashable {
        case pool(String)
        /// A link by its index in the topology.
        case link(Int)
    }

    public var target: Target
    public var atS: Double
    /// When it is back, if ever.
    public var untilS: Double?
    /// As written, for reports.
    public var text: String

    public init(target: Target, atS: Double, untilS: Double?, text: String) {
        self.target = target
        self.atS = atS
        self.untilS = untilS
        self.text = text
    }

    /// Reads `pool:ID@T`, `link:A-B@T` or `link:ID@T`, with `+D` after T for a failure lasting D
    /// seconds. A link is named by its id or its two end nodes.
    public static func parse(_ text: String, in topology: Topology) throws(ScenarioError) -> Failure {
        let usage = "failure \"\(text)\": expected pool:ID@SECONDS or link:A-B@SECONDS, with +DURATION to recover"
        guard let colon = text.firstIndex(of: ":"), let at = text.lastIndex(of: "@") , colon < at else { throw ScenarioError(usage) }
        let kind = text[..<colon]
        let name = String(text[text.index(after: colon)..<at])
        let times = text[text.index(after: at)...].split(separator: "+", maxSplits: 1).map { Double($0) }
        guard let start = times.first ?? nil, start.isFinite, start >= 0 else { throw ScenarioError(usage) }
        var until: Double?
        if times.count == 2 {
            guard let duration = times[1], duration.isFinite, duration > 0 else { throw ScenarioError(usage) }
            until = start + duration
        }
        switch kind {
        case "pool":
            guard topology.pools.contains(where: { $0.id == name }) else {
                throw ScenarioError("failure \"\(text)\": \(topology.name) declares no pool \(name)")
            }
            return Failure(target: .pool(name), atS: start, untilS: until, text: text)
        case "link":
            if let index = topology.links.firstIndex(where: { $0.id == name }) {
                return Failure(target: .link(index), atS: start, untilS: until, text: text)
            }
            // Node ids may hold dashes: try every dash as the separator.
            for dash in name.indices where name[dash] == "-" {
                guard let a = topology.node(String(name[..<dash])), let b = topology.node(String(name[name.index(after: dash)...])) else { continue }
                if let index = topology.links.firstIndex(where: { ($0.from, $0.to) == (a, b) || ($0.from, $0.to) == (b, a) }) {
                    return Failure(target: .link(index), atS: start, untilS: until, text: text)
                }
            }
            throw ScenarioError("failure \"\(text)\": \(topology.name) has no link \(name) (name a link id or its two end nodes)")
        default:
            throw ScenarioError(usage)
        }
    }

    public var description: String { text }
}

/// Ways to reshape a trace before it runs.
public enum Workload {
    /// Scales the number of jobs by `factor`, keeping the arrival pattern: above 1, copies of jobs
    /// drawn at random arrive at the arrival times of other jobs drawn at random; below 1, a random
    /// subset is kept. The result is sorted by arrival.
    public static func inflate(_ jobs: [TraceJob], by factor: Double, seed: UInt64) -> [TraceJob] {
        guard !jobs.isEmpty, factor != 1 else { return jobs }
        var generator = SeededGenerator(seed: seed ^ 0x1F1A_7E)
        let target = max(1, Int((Double(jobs.count) * factor).rounded()))
        var result: [TraceJob]
        if target <= jobs.count {
            result = Array(jobs.shuffled(using: &generator).prefix(target))
        } else {
            result = jobs
            for copy in 0..<(target - jobs.count) {
                var job = jobs.randomElement(using: &generator)!
                job.id += "+\(copy + 1)"
                job.arrivalS = jobs.randomElement(using: &generator)!.arrivalS
                result.append(job)
            }
        }
        return result.enumerated().sorted { ($0.element.arrivalS, $0.offset) < ($1.element.arrivalS, $1.offset) }.map(\.element)
    }

    /// The topology with its pools' capacity replaced by a cluster's machines, dealt out in
    /// proportion to each pool's declared GPUs (cores when no pool declares GPUs), interleaved so
    /// every pool gets a like mix of machine kinds. Each pool keeps its node, price and speed.
    public static func spread(_ machines: [TraceNode], over topology: Topology) -> Topology {
        var result = topology
        guard !topology.pools.isEmpty else { return result }
        let gpuWeights = topology.pools.map { Double($0.capacity.gpuCount) }
        let weights = gpuWeights.contains { $0 > 0 } ? gpuWeights : topology.pools.map { max($0.capacity.cpuCores, 0) }
        let total = weights.reduce(0, +)
        let shares = total > 0 ? weights.map { $0 / total } : weights.map { _ in 1 / Double(weights.count) }
        var dealt = [Int](repeating: 0, count: shares.count)
        var capacity = [Resources](repeating: Resources(), count: shares.count)
        for (position, machine) in machines.sorted(by: { ($0.gpuModel ?? "", $0.gpus, $0.cpuCores, $0.id) < ($1.gpuModel ?? "", $1.gpus, $1.cpuCores, $1.id) }).enumerated() {
            // The pool furthest below its share so far takes the next machine.
            let owed = shares.indices.map { shares[$0] * Double(position + 1) - Double(dealt[$0]) }
            let pool = owed.indices.max { owed[$0] < owed[$1] }!
            dealt[pool] += 1
            capacity[pool].cpuCores += machine.cpuCores
            capacity[pool].memoryBytes += machine.memoryBytes
            if machine.gpus > 0 { capacity[pool].gpus[machine.gpuModel ?? "gpu", default: 0] += machine.gpus }
        }
        for index in result.pools.indices { result.pools[index].capacity = capacity[index] }
        return result
    }
}
