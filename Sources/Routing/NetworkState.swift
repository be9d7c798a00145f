import Topology

/// The live network over a topology: which links are up, their capacity and latency (a
/// measured latency overrides the file's), and the bandwidth leases hold on each direction.
///
/// Every change bumps a version; searches cached against an older version are stale and are
/// recomputed on next use, so a burst of changes costs one recomputation.
public struct NetworkState: Sendable {
    public let topology: Topology
    public let graph: NetworkGraph
    public private(set) var isUp: [Bool]
    public private(set) var capacityGbps: [Double]
    /// Effective latency per link in ms; infinity for a link that is down.
    public private(set) var searchLatency: [Double]
    private var configuredLatency: [Double]
    private var measuredLatency: [Double?]
    /// Bandwidth held by leases per slot, in Gbps.
    public private(set) var heldGbps: [Double]
    /// Available bandwidth per slot in Gbps: capacity minus held, 0 for a link that is down.
    public private(set) var availableGbps: [Double]
    /// Bumps when links go up or down or change latency or capacity: what shortest-latency
    /// searches depend on.
    public private(set) var routeVersion: UInt64 = 1
    /// Bumps on every change, holds included: what bandwidth-aware searches depend on.
    public private(set) var availabilityVersion: UInt64 = 1

    public init(_ topology: Topology) {
        self.topology = topology
        graph = NetworkGraph(topology)
        isUp = topology.links.map(\.isUp)
        capacityGbps = topology.links.map(\.capacityGbps)
        configuredLatency = topology.links.map(\.latencyMs)
        measuredLatency = Array(repeating: nil, count: topology.links.count)
        searchLatency = topology.links.map { $0.isUp ? $0.latencyMs : .infinity }
        heldGbps = Array(repeating: 0, count: topology.links.count * 2)
        availableGbps = []
        availableGbps = (0..<topology.links.count * 2).map { available(slot: $0) }
    }

    public var linkCount: Int { topology.links.count }

    /// What leases hold on a link's busier direction, in Gbps: each direction has the link's
    /// full capacity, so the busier one is what limits.
    public func reservedGbps(link: Int) -> Double {
        max(heldGbps[2 * link], heldGbps[2 * link + 1])
    }

    /// The latency of a link in ms, measured when known, whether or not it is up.
    public func latencyMs(link: Int) -> Double {
        measuredLatency[link] ?? configuredLatency[link]
    }

    private func available(slot: Int) -> Double {
        let link = slot >> 1
        return isUp[link] ? max(0, capacityGbps[link] - heldGbps[slot]) : 0
    }

    private mutating func refresh(link: Int) {
        searchLatency[link] = isUp[link] ? latencyMs(link: link) : .infinity
        availableGbps[link * 2] = available(slot: link * 2)
        availableGbps[link * 2 + 1] = available(slot: link * 2 + 1)
    }

    /// Marks a link up or down; returns whether anything changed.
    @discardableResult
    public mutating func setLink(_ link: Int, up: Bool) -> Bool {
        guard isUp[link] != up else { return false }
        isUp[link] = up
        refresh(link: link)
        routeVersion &+= 1
        availabilityVersion &+= 1
        return true
    }

    /// Sets a link's capacity in Gbps; returns whether anything changed. Leases keep what they
    /// hold, so a link can be left holding more than its new capacity until they end.
    @discardableResult
    public mutating func setCapacity(_ link: Int, gbps: Double) -> Bool {
        guard capacityGbps[link] != gbps else { return false }
        capacityGbps[link] = gbps
        refresh(link: link)
        availabilityVersion &+= 1
        return true
    }

    /// Sets a measured latency (nil returns to the file's value).
    public mutating func setMeasuredLatency(_ link: Int, ms: Double?) {
        guard measuredLatency[link] != ms else { return }
        measuredLatency[link] = ms
        refresh(link: link)
        routeVersion &+= 1
        availabilityVersion &+= 1
    }

    /// Whether every slot has `gbps` available.
    public func canHold(_ gbps: Double, on slots: [Int]) -> Bool {
        // A path uses a slot at most once (paths are loopless), so slots are checked one by one.
        slots.allSatisfy { availableGbps[$0] + 1e-9 >= gbps }
    }

    /// Holds bandwidth on every slot; the caller checked `canHold`.
    public mutating func hold(_ gbps: Double, on slots: [Int]) {
        guard gbps > 0 else { return }
        for slot in slots {
            heldGbps[slot] += gbps
            availableGbps[slot] = available(slot: slot)
        }
        availabilityVersion &+= 1
    }

    public mutating func release(_ gbps: Double, on slots: [Int]) {
        guard gbps > 0 else { return }
        for slot in slots {
            heldGbps[slot] = max(0, heldGbps[slot] - gbps)
            if heldGbps[slot] < 1e-9 { heldGbps[slot] = 0 }
            availableGbps[slot] = available(slot: slot)
        }
        availabilityVersion &+= 1
    }

    /// Limits for a search over what is up, optionally only where `minimumGbps` is available.
    public func limits(minimumGbps: Double = 0, bandwidthAware: Bool) -> SearchLimits {
        SearchLimits(latency: searchLatency, available: bandwidthAware ? availableGbps : nil, minimumGbps: minimumGbps)
    }
}
