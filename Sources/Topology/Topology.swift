import Foundation

/// A network of nodes and links with the compute pools attached to it, as an operator described it.
///
/// Nodes are referred to by index in `links` and `pools`; `nodeIndex` maps ids to indexes.
public struct Topology: Sendable, Hashable {
    public var name: String
    /// Where the network description came from, for attribution.
    public var source: String?
    public var defaults: Defaults
    public var nodes: [Node]
    public var links: [Link]
    public var pools: [Pool]
    public private(set) var nodeIndex: [String: Int]

    public init(name: String, source: String? = nil, defaults: Defaults = Defaults(), nodes: [Node], links: [Link], pools: [Pool]) {
        self.name = name
        self.source = source
        self.defaults = defaults
        self.nodes = nodes
        self.links = links
        self.pools = pools
        self.nodeIndex = Dictionary(nodes.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The index of the node with this id.
    public func node(_ id: String) -> Int? { nodeIndex[id] }

    /// The id of a node `id` was likely meant to name (another case, a typo), for an error message.
    public func nodeID(like id: String) -> String? { closest(to: id, in: nodes.lazy.map(\.id)) }

    /// Values used where a link leaves a key out.
    public struct Defaults: Sendable, Hashable {
        public var linkCapacityGbps: Double = 10
        public var linkCost: Double = 1
        public var propagationKmPerMs: Double = 200

        public init(linkCapacityGbps: Double = 10, linkCost: Double = 1, propagationKmPerMs: Double = 200) {
            self.linkCapacityGbps = linkCapacityGbps
            self.linkCost = linkCost
            self.propagationKmPerMs = propagationKmPerMs
        }
    }

    /// A network location: a PoP, a router, a site.
    public struct Node: Sendable, Hashable {
        public var id: String
        public var name: String?
        public var region: String?
        public var location: GeoLocation?
        public var labels: [String: String]
        public var origin: SourceLocation?

        public init(id: String, name: String? = nil, region: String? = nil, location: GeoLocation? = nil, labels: [String: String] = [:], origin: SourceLocation? = nil) {
            self.id = id
            self.name = name
            self.region = region
            self.location = location
            self.labels = labels
            self.origin = origin
        }
    }

    /// A connection between two nodes. A bidirectional link carries traffic both ways, each way
    /// with the full capacity.
    public struct Link: Sendable, Hashable {
        public var id: String
        public var from: Int
        public var to: Int
        public var bidirectional: Bool
        public var latencyMs: Double
        public var capacityGbps: Double
        public var cost: Double
        public var isUp: Bool
        /// Price of moving one gigabyte over this link; 0 when free.
        public var transferPricePerGB: Double
        /// True when the latency was derived from the ends' locations rather than given.
        public var latencyDerived: Bool
        public var origin: SourceLocation?

        public init(id: String, from: Int, to: Int, bidirectional: Bool = true, latencyMs: Double, capacityGbps: Double, cost: Double = 1, isUp: Bool = true, transferPricePerGB: Double = 0, latencyDerived: Bool = false, origin: SourceLocation? = nil) {
            self.id = id
            self.from = from
            self.to = to
            self.bidirectional = bidirectional
            self.latencyMs = latencyMs
            self.capacityGbps = capacityGbps
            self.cost = cost
            self.isUp = isUp
            self.transferPricePerGB = transferPricePerGB
            self.latencyDerived = latencyDerived
            self.origin = origin
        }
    }

    /// A compute pool attached to a node.
    public struct Pool: Sendable, Hashable {
        public var id: String
        public var node: Int
        public var capacity: Resources
        public var labels: [String: String]
        public var price: Price
        /// Speed relative to a reference pool: runtime on this pool = reference runtime / speed.
        public var speed: Double
        public var queueWaitS: Double
        public var processingLatencyMs: Double
        public var origin: SourceLocation?

        public init(id: String, node: Int, capacity: Resources, labels: [String: String] = [:], price: Price = Price(), speed: Double = 1, queueWaitS: Double = 0, processingLatencyMs: Double = 0, origin: SourceLocation? = nil) {
            self.id = id
            self.node = node
            self.capacity = capacity
            self.labels = labels
            self.price = price
            self.speed = speed
            self.queueWaitS = queueWaitS
            self.processingLatencyMs = processingLatencyMs
            self.origin = origin
        }
    }

    /// A pool's labels as constraints see them: its node's region and labels, then its own.
    public func effectiveLabels(of pool: Pool) -> [String: String] {
        let node = nodes[pool.node]
        var labels = node.labels
        if let region = node.region { labels["region"] = region }
        labels.merge(pool.labels) { _, own in own }
        return labels
    }
}

/// Compute resources: CPU cores, memory and GPUs by model.
public struct Resources: Sendable, Hashable {
    public var cpuCores: Double
    public var memoryBytes: UInt64
    public var gpus: [String: Int]

    public init(cpuCores: Double = 0, memoryBytes: UInt64 = 0, gpus: [String: Int] = [:]) {
        self.cpuCores = cpuCores
        self.memoryBytes = memoryBytes
        self.gpus = gpus
    }

    public var gpuCount: Int { gpus.values.reduce(0, +) }
    public var memoryGiB: Double { Double(memoryBytes) / Double(1 << 30) }

    /// Whether these resources fit within `other`.
    public func fits(in other: Resources) -> Bool {
        cpuCores <= other.cpuCores + 1e-9 && memoryBytes <= other.memoryBytes
            && gpus.allSatisfy { $0.value <= (other.gpus[$0.key] ?? 0) }
    }
}

/// What a pool charges.
public struct Price: Sendable, Hashable {
    public var cpuCoreHour: Double
    public var gpuHour: [String: Double]

    public init(cpuCoreHour: Double = 0, gpuHour: [String: Double] = [:]) {
        self.cpuCoreHour = cpuCoreHour
        self.gpuHour = gpuHour
    }
}

/// A point on Earth in degrees.
public struct GeoLocation: Sendable, Hashable {
    public var latitude: Double
    public var longitude: Double

    public init(latitude: Double, longitude: Double) {
        self.latitude = latitude
        self.longitude = longitude
    }

    /// Great-circle distance in kilometres (haversine, mean Earth radius).
    public func distanceKm(to other: GeoLocation) -> Double {
        let radius = 6_371.0088
        let toRadians = Double.pi / 180
        let dLat = (other.latitude - latitude) * toRadians
        let dLon = (other.longitude - longitude) * toRadians
        let a = sin(dLat / 2) * sin(dLat / 2)
            + cos(latitude * toRadians) * cos(other.latitude * toRadians) * sin(dLon / 2) * sin(dLon / 2)
        return 2 * radius * atan2(a.squareRoot(), (1 - a).squareRoot())
    }
}

/// Where something was written: a file, a line and a column, both from 1.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}
