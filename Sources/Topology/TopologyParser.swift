import Foundation
import Yams

extension Topology {
    /// The keys the format knows, per section.
    static let rootKeys = ["name", "source", "description", "defaults", "nodes", "links", "pools"]
    static let defaultsKeys = ["link_capacity_gbps", "link_cost", "propagation_km_per_ms"]
    static let nodeKeys = ["id", "name", "region", "location", "labels"]
    static let locationKeys = ["lat", "lon"]
    static let linkKeys = ["id", "between", "from", "to", "latency_ms", "capacity_gbps", "cost", "state", "transfer_price_per_gb"]
    static let poolKeys = ["id", "node", "capacity", "labels", "price", "speed", "queue_wait_s", "processing_latency_ms"]
    static let capacityKeys = ["cpu_cores", "memory_gib", "gpus"]
    static let priceKeys = ["cpu_core_hour", "gpu_hour"]

    /// Parses and validates a topology file's text. Every problem is collected; when any is an
    /// error nothing is returned, so a file with errors is never half-loaded.
    public static func load(yaml text: String, file: String) throws(TopologyErrors) -> LoadedTopology {
        var parser = TopologyParser(file: file)
        let topology = parser.parse(text)
        let problems = parser.reader.problems
        let errors = problems.filter { $0.severity == .error }.sorted(by: inFileOrder)
        let warnings = problems.filter { $0.severity == .warning }.sorted(by: inFileOrder)
        guard errors.isEmpty, let topology else {
            throw TopologyErrors(problems: errors + warnings)
        }
        return LoadedTopology(topology: topology, warnings: warnings)
    }

    /// Reads and loads a topology file from disk.
    /// The largest topology file read by default: well above any real network, well below what
    /// would hold a daemon up for long (a 50 MB file takes most of a minute to parse).
    public static let defaultMaximumBytes = 32 << 20

    /// Reads and validates a topology file no larger than `maximumBytes`.
    public static func load(contentsOf path: String, maximumBytes: Int = defaultMaximumBytes) throws(TopologyErrors) -> LoadedTopology {
        func refuse(_ message: String) -> TopologyErrors {
            TopologyErrors(problems: [TopologyProblem(.error, .syntax, at: SourceLocation(file: path, line: 1, column: 1), message)])
        }
        // Checked before reading: a file too large, or not a file, is refused without a byte parsed.
        var info = stat()
        guard stat(path, &info) == 0 else { throw refuse("cannot read the file: \(String(cString: strerror(errno)))") }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw refuse(info.st_mode & S_IFMT == S_IFDIR ? "this is a directory, not a topology file" : "this is not a regular file")
        }
        guard info.st_size <= maximumBytes else {
            throw refuse("the file is \(info.st_size) bytes, above the \(maximumBytes)-byte limit for a topology file")
        }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw refuse("cannot read the file as UTF-8 text: \(error.localizedDescription)")
        }
        return try load(yaml: text, file: path)
    }
}

private func inFileOrder(_ a: TopologyProblem, _ b: TopologyProblem) -> Bool {
    (a.location.line, a.location.column) < (b.location.line, b.location.column)
}

/// Node, pool and tenant ids: 1 to 128 letters, digits and `._:-`.
public func isValidID(_ id: String) -> Bool {
    !id.isEmpty && id.utf8.count <= 128 && id.unicodeScalars.allSatisfy { scalar in
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", ".", "_", ":", "-": true
        default: false
        }
    }
}

struct TopologyParser {
    var reader: YAMLReader

    init(file: String) {
        reader = YAMLReader(file: file)
    }

    mutating func parse(_ text: String) -> Topology? {
        guard let root = reader.compose(text, empty: "the file is empty; a topology needs at least \"name\" and \"nodes\"") else { return nil }

        guard let fields = reader.fields(of: root, "the topology", known: Topology.rootKeys) else { return nil }
        let name = reader.require(fields, "name", "the topology").flatMap { reader.string($0, "name") }
        let source = fields["source"].flatMap { reader.string($0, "source") }
        if let description = fields["description"] { _ = reader.string(description, "description") }
        let defaults = fields["defaults"].map { parseDefaults($0) } ?? Topology.Defaults()

        var nodes: [Topology.Node] = []
        var nodeIndex: [String: Int] = [:]
        if let list = reader.require(fields, "nodes", "the topology").flatMap({ reader.list($0, "nodes") }) {
            if list.isEmpty { reader.error(.missingKey, at: fields["nodes"], "nodes is empty; a topology needs at least one node") }
            for item in list {
                guard let node = parseNode(item) else { continue }
                if let first = nodeIndex[node.id] {
                    reader.error(.duplicateID, at: item, "node id \"\(node.id)\" is used twice; the first is at line \(nodes[first].origin?.line ?? 0)")
                    continue
                }
                nodeIndex[node.id] = nodes.count
                nodes.append(node)
            }
        }

        var links: [Topology.Link] = []
        var linkIDs: [String: Int] = [:]
        if let list = fields["links"].flatMap({ reader.list($0, "links") }) {
            for item in list {
                guard var link = parseLink(item, nodes: nodes, nodeIndex: nodeIndex, defaults: defaults) else { continue }
                if let first = linkIDs[link.id] {
                    if linkFields(item)?["id"] != nil {
                        reader.error(.duplicateID, at: item, "link id \"\(link.id)\" is used twice; the first is at line \(links[first].origin?.line ?? 0)")
                        continue
                    }
                    // Parallel links are real in backbones: each keeps its own id.
                    var ordinal = 2
                    while linkIDs["\(link.id)#\(ordinal)"] != nil { ordinal += 1 }
                    link.id = "\(link.id)#\(ordinal)"
                }
                linkIDs[link.id] = links.count
                links.append(link)
            }
        }

        var pools: [Topology.Pool] = []
        var poolIndex: [String: Int] = [:]
        if let list = fields["pools"].flatMap({ reader.list($0, "pools") }) {
            for item in list {
                guard let pool = parsePool(item, nodes: nodes, nodeIndex: nodeIndex) else { continue }
                if let first = poolIndex[pool.id] {
                    reader.error(.duplicateID, at: item, "pool id \"\(pool.id)\" is used twice; the first is at line \(pools[first].origin?.line ?? 0)")
                    continue
                }
                poolIndex[pool.id] = pools.count
                pools.append(pool)
            }
        }

        guard let name, !reader.hasErrors else { return nil }
        let topology = Topology(name: name, source: source, defaults: defaults, nodes: nodes, links: links, pools: pools)
        let parts = topology.connectedComponents()
        if parts.count > 1 {
            let described = parts.prefix(5).map { part in
                let names = part.prefix(4).map { nodes[$0].id }.joined(separator: ", ")
                return part.count > 4 ? "{\(names), … (\(part.count) nodes)}" : "{\(names)}"
            }.joined(separator: ", ")
            let more = parts.count > 5 ? " and \(parts.count - 5) more" : ""
            reader.warning(.disconnected, at: fields["nodes"], "the network falls into \(parts.count) disconnected parts: \(described)\(more); nothing can be routed between them")
        }
        return topology
    }

    private mutating func parseDefaults(_ node: Yams.Node) -> Topology.Defaults {
        var defaults = Topology.Defaults()
        guard let fields = reader.fields(of: node, "defaults", known: Topology.defaultsKeys) else { return defaults }
        if let value = fields["link_capacity_gbps"].flatMap({ reader.positive($0, "defaults.link_capacity_gbps", unit: "Gbps") }) {
            defaults.linkCapacityGbps = value
        }
        if let value = fields["link_cost"].flatMap({ reader.nonNegative($0, "defaults.link_cost") }) {
            defaults.linkCost = value
        }
        if let value = fields["propagation_km_per_ms"].flatMap({ reader.positive($0, "defaults.propagation_km_per_ms", unit: "km per ms") }) {
            defaults.propagationKmPerMs = value
        }
        return defaults
    }

    private mutating func parseID(_ fields: Fields, _ what: String) -> String? {
        guard let node = reader.require(fields, "id", what), let id = reader.string(node, "the id of \(what)") else { return nil }
        guard isValidID(id) else {
            reader.error(.invalidID, at: node, "id \"\(id)\" may only hold letters, digits and . _ : - (at most 128 bytes)")
            return nil
        }
        return id
    }

    private mutating func parseNode(_ item: Yams.Node) -> Topology.Node? {
        guard let fields = reader.fields(of: item, "a node", known: Topology.nodeKeys) else { return nil }
        let id = parseID(fields, "a node")
        let what = "node \(id.map { "\"\($0)\"" } ?? "")"
        let name = fields["name"].flatMap { reader.string($0, "name of \(what)") }
        let region = fields["region"].flatMap { reader.string($0, "region of \(what)") }
        let labels = fields["labels"].map { reader.labels($0, "labels of \(what)") } ?? [:]
        var location: GeoLocation?
        if let node = fields["location"], let parts = reader.fields(of: node, "location of \(what)", known: Topology.locationKeys) {
            let lat = reader.require(parts, "lat", "location of \(what)").flatMap { reader.number($0, "lat", unit: "degrees") }
            let lon = reader.require(parts, "lon", "location of \(what)").flatMap { reader.number($0, "lon", unit: "degrees") }
            if let lat, !(-90...90).contains(lat) {
                reader.error(.coordinatesOutOfRange, at: parts["lat"], "latitude \(format(lat)) of \(what) is outside -90…90")
            } else if let lon, !(-180...180).contains(lon) {
                reader.error(.coordinatesOutOfRange, at: parts["lon"], "longitude \(format(lon)) of \(what) is outside -180…180")
            } else if let lat, let lon {
                location = GeoLocation(latitude: lat, longitude: lon)
            }
        }
        guard let id else { return nil }
        return Topology.Node(id: id, name: name, region: region, location: location, labels: labels, origin: reader.location(item))
    }

    private func linkFields(_ item: Yams.Node) -> Yams.Node.Mapping? {
        if case .mapping(let mapping) = item { return mapping }
        return nil
    }

    private mutating func endpoint(_ node: Yams.Node, _ what: String, nodes: [Topology.Node], nodeIndex: [String: Int]) -> Int? {
        guard let id = reader.string(node, what) else { return nil }
        guard let index = nodeIndex[id] else {
            let hint = closest(to: id, in: nodes.map(\.id)).map { "; did you mean \"\($0)\"?" } ?? ""
            reader.error(.unknownNode, at: node, "\(what) names node \"\(id)\", which is not in nodes\(hint)")
            return nil
        }
        return index
    }

    private mutating func parseLink(_ item: Yams.Node, nodes: [Topology.Node], nodeIndex: [String: Int], defaults: Topology.Defaults) -> Topology.Link? {
        guard let fields = reader.fields(of: item, "a link", known: Topology.linkKeys) else { return nil }
        var from: Int?, to: Int?
        var bidirectional = true
        var endpointsValid = false
        if let between = fields["between"] {
            if fields["from"] != nil || fields["to"] != nil {
                reader.error(.invalidValue, at: between, "a link has either \"between\" (both directions) or \"from\" and \"to\" (one direction), not both")
            } else if let ends = reader.list(between, "between") {
                if ends.count == 2 {
                    from = endpoint(ends[0], "between", nodes: nodes, nodeIndex: nodeIndex)
                    to = endpoint(ends[1], "between", nodes: nodes, nodeIndex: nodeIndex)
                    endpointsValid = from != nil && to != nil
                } else {
                    reader.error(.invalidValue, at: between, "between must name exactly two nodes, found \(ends.count)")
                }
            }
        } else if fields["from"] != nil || fields["to"] != nil {
            bidirectional = false
            let fromNode = reader.require(fields, "from", "a one-way link")
            let toNode = reader.require(fields, "to", "a one-way link")
            from = fromNode.flatMap { endpoint($0, "from", nodes: nodes, nodeIndex: nodeIndex) }
            to = toNode.flatMap { endpoint($0, "to", nodes: nodes, nodeIndex: nodeIndex) }
            endpointsValid = from != nil && to != nil
        } else {
            reader.error(.missingKey, at: item, "a link needs \"between: [A, B]\" or \"from: A\" and \"to: B\"")
        }
        let what = endpointsValid ? "link \(nodes[from!].id)–\(nodes[to!].id)" : "the link"
        if endpointsValid, from == to {
            reader.error(.selfLoop, at: fields["between"] ?? fields["from"], "\(what) connects a node to itself")
            endpointsValid = false
        }

        let explicitID = fields["id"].flatMap { node -> String? in
            guard let id = reader.string(node, "the id of \(what)") else { return nil }
            guard isValidID(id) else {
                reader.error(.invalidID, at: node, "link id \"\(id)\" may only hold letters, digits and . _ : -")
                return nil
            }
            return id
        }
        let capacity = fields["capacity_gbps"].map { reader.positive($0, "capacity_gbps of \(what)", unit: "Gbps") } ?? defaults.linkCapacityGbps
        let cost = fields["cost"].map { reader.nonNegative($0, "cost of \(what)") } ?? defaults.linkCost
        let transferPrice = fields["transfer_price_per_gb"].map { reader.nonNegative($0, "transfer_price_per_gb of \(what)") } ?? 0
        var isUp = true
        if let state = fields["state"], let text = reader.string(state, "state of \(what)") {
            switch text {
            case "up": isUp = true
            case "down": isUp = false
            default: reader.error(.invalidValue, at: state, "state of \(what) is \"\(text)\"; it must be up or down")
            }
        }

        var latency: Double?
        var derived = false
        let distance: Double? = endpointsValid ? nodes[from!].location.flatMap { a in nodes[to!].location.map { a.distanceKm(to: $0) } } : nil
        if let node = fields["latency_ms"] {
            latency = reader.nonNegative(node, "latency_ms of \(what)", unit: "ms")
            if let latency, let distance, latency + 0.01 < distance / 300 {
                reader.warning(.fasterThanLight, at: node, "latency_ms of \(what) is \(format(latency)) ms, but its ends are \(format(distance)) km apart, which light needs \(format(distance / 300)) ms to cross")
            }
        } else if endpointsValid {
            if let distance {
                latency = distance / defaults.propagationKmPerMs
                derived = true
            } else {
                let missing = [from!, to!].filter { nodes[$0].location == nil }.map { "\"\(nodes[$0].id)\"" }
                let subject = missing.count == 1 ? "node \(missing[0]) has" : "nodes \(missing.joined(separator: " and ")) have"
                reader.error(.missingLatency, at: item, "\(what) has no latency_ms and \(subject) no location to derive it from; add latency_ms or a location")
            }
        }

        guard endpointsValid, let from, let to, let latency, let capacity, let cost, let transferPrice else { return nil }
        return Topology.Link(
            id: explicitID ?? "\(nodes[from].id)-\(nodes[to].id)", from: from, to: to, bidirectional: bidirectional,
            latencyMs: latency, capacityGbps: capacity, cost: cost, isUp: isUp,
            transferPricePerGB: transferPrice, latencyDerived: derived, origin: reader.location(item)
        )
    }

    private mutating func parsePool(_ item: Yams.Node, nodes: [Topology.Node], nodeIndex: [String: Int]) -> Topology.Pool? {
        guard let fields = reader.fields(of: item, "a pool", known: Topology.poolKeys) else { return nil }
        let id = parseID(fields, "a pool")
        let what = "pool \(id.map { "\"\($0)\"" } ?? "")"
        let node = reader.require(fields, "node", what).flatMap { endpoint($0, "node of \(what)", nodes: nodes, nodeIndex: nodeIndex) }
        let capacity = reader.require(fields, "capacity", what).flatMap { parseCapacity($0, what) }
        let labels = fields["labels"].map { reader.labels($0, "labels of \(what)") } ?? [:]
        let price = fields["price"].map { parsePrice($0, what, gpus: capacity?.gpus ?? [:]) } ?? Price()
        let speed = fields["speed"].map { reader.positive($0, "speed of \(what)", atMost: PoolLimits.speed) } ?? 1
        let queue = fields["queue_wait_s"].map { reader.nonNegative($0, "queue_wait_s of \(what)", unit: "seconds", atMost: PoolLimits.queueWaitS) } ?? 0
        let processing = fields["processing_latency_ms"].map { reader.nonNegative($0, "processing_latency_ms of \(what)", unit: "ms", atMost: PoolLimits.processingLatencyMs) } ?? 0
        guard let id, let node, let capacity, let price, let speed, let queue, let processing else { return nil }
        return Topology.Pool(
            id: id, node: node, capacity: capacity, labels: labels, price: price, speed: speed,
            queueWaitS: queue, processingLatencyMs: processing, origin: reader.location(item)
        )
    }

    private mutating func parseCapacity(_ node: Yams.Node, _ what: String) -> Resources? {
        guard let fields = reader.fields(of: node, "capacity of \(what)", known: Topology.capacityKeys) else { return nil }
        var resources = Resources()
        var valid = true
        if let value = fields["cpu_cores"] {
            if let cores = reader.nonNegative(value, "cpu_cores of \(what)", atMost: PoolLimits.cpuCores) { resources.cpuCores = cores } else { valid = false }
        }
        if let value = fields["memory_gib"] {
            if let gib = reader.nonNegative(value, "memory_gib of \(what)", unit: "GiB", atMost: PoolLimits.memoryGiB) {
                resources.memoryBytes = UInt64(gib * Double(1 << 30))
            } else {
                valid = false
            }
        }
        if let value = fields["gpus"] {
            for entry in reader.stringMap(value, "gpus of \(what)") ?? [] {
                if let count = reader.count(entry.value, "the \(entry.name) count of \(what)", atMost: PoolLimits.gpusPerModel) {
                    resources.gpus[entry.name] = count
                } else {
                    valid = false
                }
            }
        }
        guard valid else { return nil }
        if resources.cpuCores == 0, resources.memoryBytes == 0, resources.gpuCount == 0 {
            reader.error(.nonPositive, at: node, "capacity of \(what) is empty; give cpu_cores, memory_gib or gpus")
            return nil
        }
        return resources
    }

    private mutating func parsePrice(_ node: Yams.Node, _ what: String, gpus: [String: Int]) -> Price? {
        guard let fields = reader.fields(of: node, "price of \(what)", known: Topology.priceKeys) else { return nil }
        var price = Price()
        var valid = true
        if let value = fields["cpu_core_hour"] {
            if let amount = reader.nonNegative(value, "cpu_core_hour of \(what)", atMost: PoolLimits.price) { price.cpuCoreHour = amount } else { valid = false }
        }
        if let value = fields["gpu_hour"] {
            for entry in reader.stringMap(value, "gpu_hour of \(what)") ?? [] {
                guard let amount = reader.nonNegative(entry.value, "the \(entry.name) gpu_hour price of \(what)", atMost: PoolLimits.price) else {
                    valid = false
                    continue
                }
                if gpus[entry.name] == nil {
                    reader.warning(.unusedPrice, at: entry.key, "\(what) prices \(entry.name) GPUs but has none in its capacity")
                }
                price.gpuHour[entry.name] = amount
            }
        }
        return valid ? price : nil
    }
}
