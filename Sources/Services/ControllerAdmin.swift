import ControllerCore
import ControllerWire
import Foundation
import Observability
import Placement
import Topology
import Wire

/// The controller's side of its admin endpoint: metrics with gauges read from the core on its
/// loop's thread, readiness, the read-only JSON API (the protocol's own requests, answered as
/// for an observer, in protobuf's JSON mapping), and the live event stream.
public actor ControllerAdmin: AdminSource {
    private let service: ControllerService
    private let export: PrometheusExport
    private let jobs: GaugeFamily
    private let pools: GaugeFamily
    private let capacity: CapacityGauges
    private let linkReserved: GaugeFamily
    private let linkCapacity: GaugeFamily
    private let linkRatio: GaugeFamily
    private let waiting: GaugeFamily
    private let planned: GaugeFamily
    private let linksDown: GaugeFamily
    private let inMemory: GaugeFamily
    private let version: GaugeFamily
    private let connections: GaugeFamily
    private let routeSearches: CounterFollower
    private let eventsPublished: CounterFollower
    /// The loop answers within this, or the scrape or request fails with 503.
    private let loopTimeout: Duration = .seconds(10)

    public nonisolated var servesDashboard: Bool { true }

    public init(service: ControllerService, export: PrometheusExport) {
        self.service = service
        self.export = export
        jobs = export.gaugeFamily("junction_jobs")
        pools = export.gaugeFamily("junction_pools")
        capacity = CapacityGauges(prefix: "junction_capacity", export: export)
        linkReserved = export.gaugeFamily("junction_link_reserved_bytes_per_second")
        linkCapacity = export.gaugeFamily("junction_link_capacity_bytes_per_second")
        linkRatio = export.gaugeFamily("junction_link_reserved_ratio")
        waiting = export.gaugeFamily("junction_jobs_waiting")
        planned = export.gaugeFamily("junction_jobs_planned")
        linksDown = export.gaugeFamily("junction_links_down")
        inMemory = export.gaugeFamily("junction_jobs_in_memory")
        version = export.gaugeFamily("junction_topology_version")
        connections = export.gaugeFamily("junction_connections")
        routeSearches = CounterFollower("junction_route_searches_total", export: export)
        eventsPublished = CounterFollower("junction_events_published_total", export: export)
    }

    public func metrics() async -> [UInt8] {
        if let readings = await service.inspect(timeout: loopTimeout, { $0.readings() }) { apply(readings) }
        connections.update(service.connections.map { ([("endpoint", $0.endpoint)], Double($0.count)) })
        return export.render()
    }

    private func apply(_ readings: ControllerReadings) {
        jobs.update(JobState.allCases.filter { !$0.isFinished }.map { ([("state", $0.rawValue)], Double(readings.jobsByState[$0] ?? 0)) })
        pools.update(readings.poolsByStatus.sorted { $0.key < $1.key }.map { ([("status", $0.key)], Double($0.value)) })
        capacity.update(total: readings.total, free: readings.free)
        let bytesPerGbps = 1e9 / 8
        linkReserved.update(readings.links.map { ([("link", $0.id)], $0.reservedGbps * bytesPerGbps) })
        linkCapacity.update(readings.links.map { ([("link", $0.id)], $0.capacityGbps * bytesPerGbps) })
        linkRatio.update(readings.links.map { ([("link", $0.id)], $0.capacityGbps > 0 ? $0.reservedGbps / $0.capacityGbps : 0) })
        waiting.update([([], Double(readings.waitingJobs))])
        planned.update([([], Double(readings.plannedJobs))])
        linksDown.update([([], Double(readings.linksDown))])
        inMemory.update([([], Double(readings.jobsInMemory))])
        version.update([([], Double(readings.routingVersion))])
        routeSearches.update(readings.routeSearches)
        eventsPublished.update(Int(readings.eventSequence))
    }

    public func notReady() async -> String? {
        if service.hasFailed { return "the job store failed" }
        // The topology is loaded and the store open before the loop runs: a loop that answers is ready.
        guard await service.inspect(timeout: loopTimeout, { _ in true }) != nil else { return "the controller's loop did not answer within 10 s" }
        return nil
    }

    public nonisolated func events() -> AsyncStream<[UInt8]>? {
        service.events()
    }

    public func api(_ path: String, query: [String: String]) async -> AdminAnswer? {
        let parts = path.split(separator: "/").map(String.init)
        let request: ClientRequest
        do throws(AdminAPIError) {
            switch parts.first {
            case "topology" where parts.count == 1:
                return await topology()
            case "pools" where parts.count == 1:
                request = .pools(try page(query))
            case "jobs" where parts.count == 1 && query["ids"] != nil:
                request = .status(StatusQuery(jobIDs: (query["ids"] ?? "").split(separator: ",").map(String.init)))
            case "jobs" where parts.count == 1:
                request = .status(StatusQuery(page: try page(query), activeOnly: try flag(query, "active")))
            case "jobs" where parts.count == 2:
                request = .status(StatusQuery(jobIDs: [parts[1]]))
            case "routes" where parts.count == 2:
                request = .routes(RoutesQuery(
                    ingress: parts[1], dataBytes: try number(query, "data_bytes"), minBandwidthGbps: try number(query, "min_gbps"),
                    alternatives: Int(try number(query, "alternatives", atMost: 8)), page: try page(query)
                ))
            case "routes" where parts.count == 1:
                return .error(400, "name the ingress node: /api/v1/routes/INGRESS")
            case "snapshot" where parts.count == 1:
                request = .snapshot(try page(query))
            default:
                return nil
            }
        } catch {
            return .error(400, error.description)
        }
        guard let reply = await service.observe(request, timeout: loopTimeout) else {
            return .error(503, "the controller's loop did not answer within 10 s")
        }
        let status = switch reply {
        case .error(let error) where error.code == .notFound: 404
        case .error(let error) where error.code == .invalidRequest: 400
        // A standby: the answer names the leader, whose admin endpoint serves this.
        case .error(let error) where error.code == .notLeader: 503
        case .error: 500
        default: 200
        }
        do {
            return AdminAnswer(status: status, body: try ControllerWire.message(reply, correlationID: 0).json())
        } catch {
            return .error(500, "could not encode the answer: \(error)")
        }
    }

    private func topology() async -> AdminAnswer {
        guard let view = await service.inspect(timeout: loopTimeout, { TopologyView($0) }) else {
            return .error(503, "the controller's loop did not answer within 10 s")
        }
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            return AdminAnswer(body: Array(try encoder.encode(view)))
        } catch {
            return .error(500, "could not encode the topology: \(error)")
        }
    }

    private func page(_ query: [String: String]) throws(AdminAPIError) -> PageRequest {
        PageRequest(cursor: query["cursor"] ?? "", limit: Int(try number(query, "limit", atMost: 100_000)))
    }

    private func number(_ query: [String: String], _ name: String, atMost limit: Double = 1e15) throws(AdminAPIError) -> Double {
        guard let text = query[name] else { return 0 }
        guard let value = Double(text), value.isFinite, value >= 0, value <= limit else {
            throw AdminAPIError("\(name) must be a number from 0 to \(compactNumber(limit)), not \"\(text.prefix(32))\"")
        }
        return value
    }

    private func flag(_ query: [String: String], _ name: String) throws(AdminAPIError) -> Bool {
        switch query[name] {
        case nil, "0", "false": false
        case "", "1", "true": true
        case let other?: throw AdminAPIError("\(name) must be true or false, not \"\(other.prefix(32))\"")
        }
    }
}

/// A query parameter the admin API cannot use.
struct AdminAPIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The running network as the dashboard draws it: nodes with their places, links with their
/// state and what leases hold, and where each pool attaches.
struct TopologyView: Encodable, Sendable {
    struct Node: Encodable, Sendable {
        var id: String
        var name: String?
        var region: String?
        var latitude: Double?
        var longitude: Double?
    }

    struct Link: Encodable, Sendable {
        var id: String
        var from: String
        var to: String
        var latencyMs: Double
        var capacityGbps: Double
        var reservedGbps: Double
        var up: Bool
    }

    struct Pool: Encodable, Sendable {
        var id: String
        var node: String
    }

    var name: String
    var routingVersion: UInt64
    /// A pool whose last advertisement is older than this is stale: placements skip it.
    var staleAfterS: Double
    var nodes: [Node]
    var links: [Link]
    var pools: [Pool]

    init(_ core: ControllerCore) {
        let network = core.engine.network
        let topology = network.topology
        name = topology.name
        routingVersion = core.engine.version
        staleAfterS = core.engine.staleAfterS
        nodes = topology.nodes.map { Node(id: $0.id, name: $0.name, region: $0.region, latitude: $0.location?.latitude, longitude: $0.location?.longitude) }
        links = topology.links.enumerated().map { index, link in
            Link(
                id: link.id, from: topology.nodes[link.from].id, to: topology.nodes[link.to].id, latencyMs: network.latencyMs(link: index),
                capacityGbps: network.capacityGbps[index], reservedGbps: network.reservedGbps(link: index), up: network.isUp[index]
            )
        }
        // Declared pools and registered ones, each once.
        var seen = Set<String>()
        var pools: [Pool] = []
        for state in core.engine.pools where seen.insert(state.id).inserted {
            pools.append(Pool(id: state.id, node: topology.nodes[state.node].id))
        }
        for pool in topology.pools where seen.insert(pool.id).inserted {
            pools.append(Pool(id: pool.id, node: topology.nodes[pool.node].id))
        }
        self.pools = pools
    }
}
