/// Imports a Rocketfuel weights-dist map: `latencies.intra` (measured one-way latency in ms per
/// directed link) and optionally `weights.intra` (OSPF weights, used as link cost).
public enum RocketfuelImporter {
    public static func importTopology(latencies: String, weights: String? = nil, file: String, name: String, options: ImportOptions = ImportOptions()) throws(ImportError) -> ImportedTopology {
        let measured = try parse(latencies, file: file, what: "latency")
        let costs = try weights.map { text throws(ImportError) in try parse(text, file: file, what: "weight") } ?? []
        var costByPair: [Pair: Double] = [:]
        for entry in costs { costByPair[Pair(entry.from, entry.to)] = entry.value }

        var ids = UniqueIDs()
        var nodes: [Topology.Node] = []
        var indexByName: [String: Int] = [:]
        func node(_ raw: String) -> Int {
            if let index = indexByName[raw] { return index }
            let display = raw.replacingOccurrences(of: "+", with: " ")
            let id = ids.claim(identifier(from: raw.replacingOccurrences(of: ",+", with: "_"), fallback: "r\(nodes.count)"))
            indexByName[raw] = nodes.count
            nodes.append(Topology.Node(id: id, name: display == id ? nil : display))
            return nodes.count - 1
        }

        var latencyByPair: [Pair: Double] = [:]
        var order: [Pair] = []
        var selfLoops = 0
        for entry in measured {
            let from = node(entry.from), to = node(entry.to)
            guard from != to else {
                selfLoops += 1
                continue
            }
            let pair = Pair(entry.from, entry.to)
            if latencyByPair[pair] == nil { order.append(pair) }
            latencyByPair[pair] = entry.value
        }

        var links: [Topology.Link] = []
        var done: Set<Pair> = []
        var oneWay = 0
        for pair in order where !done.contains(pair) {
            done.insert(pair)
            let reverse = Pair(pair.to, pair.from)
            let latency = latencyByPair[pair]!
            let from = indexByName[pair.from]!, to = indexByName[pair.to]!
            let cost = costByPair[pair] ?? 1
            if let back = latencyByPair[reverse], back == latency, (costByPair[reverse] ?? 1) == cost {
                done.insert(reverse)
                links.append(Topology.Link(id: "\(nodes[from].id)-\(nodes[to].id)", from: from, to: to, latencyMs: latency, capacityGbps: options.defaultCapacityGbps, cost: cost))
            } else {
                oneWay += 1
                links.append(Topology.Link(id: "\(nodes[from].id)-\(nodes[to].id)", from: from, to: to, bidirectional: false, latencyMs: latency, capacityGbps: options.defaultCapacityGbps, cost: cost))
            }
        }

        let topology = Topology(
            name: name,
            source: "Rocketfuel weights-dist (Mahajan, Spring, Wetherall, Anderson, IMW 2002)",
            defaults: Topology.Defaults(linkCapacityGbps: options.defaultCapacityGbps, linkCost: 1, propagationKmPerMs: options.propagationKmPerMs),
            nodes: nodes, links: links, pools: []
        )
        var notes = ["\(nodes.count) nodes, \(links.count) links (\(oneWay) one-way, where the two directions differ)"]
        notes.append("Rocketfuel has no capacities: all \(links.count) links take the default \(format(options.defaultCapacityGbps)) Gbps")
        if weights == nil { notes.append("no weights file: every link costs 1") }
        if selfLoops > 0 { notes.append("\(selfLoops) self-loops dropped") }
        let parts = topology.connectedComponents().count
        if parts > 1 { notes.append("the network has \(parts) disconnected parts, as in the source") }
        return ImportedTopology(topology: topology, notes: notes, linksWithDefaultCapacity: links.count, linksWithDefaultLatency: 0)
    }

    private struct Pair: Hashable {
        var from: String
        var to: String
        init(_ from: String, _ to: String) {
            self.from = from
            self.to = to
        }
    }

    private static func parse(_ text: String, file: String, what: String) throws(ImportError) -> [(from: String, to: String, value: Double)] {
        var entries: [(from: String, to: String, value: Double)] = []
        for (number, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.isEmpty || fields[0].hasPrefix("#") { continue }
            guard fields.count == 3, let value = Double(fields[2]), value.isFinite, value >= 0 else {
                throw ImportError(file: file, line: number + 1, message: "expected \"<from> <to> <\(what)>\" with a non-negative number, found \"\(line)\"")
            }
            entries.append((String(fields[0]), String(fields[1]), value))
        }
        guard !entries.isEmpty else { throw ImportError(file: file, message: "no links in the file") }
        return entries
    }
}
