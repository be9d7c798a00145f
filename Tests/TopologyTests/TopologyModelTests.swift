import Foundation
import Routing
import Testing
import Topology

let example = """
name: abilene
defaults:
  link_capacity_gbps: 10
  link_cost: 1
  propagation_km_per_ms: 200
nodes:
  - id: NYCM
    name: New York
    region: us-east
    location: {lat: 40.71, lon: -74.01}
    labels: {country: US}
  - id: CHIN
    region: us-central
    location: {lat: 41.85, lon: -87.65}
  - id: WASH
links:
  - between: [NYCM, CHIN]
  - between: [NYCM, CHIN]
    latency_ms: 9.5
    capacity_gbps: 40
    cost: 3
    state: down
  - from: CHIN
    to: WASH
    latency_ms: 7
    transfer_price_per_gb: 0.01
  - {between: [WASH, NYCM], latency_ms: 2}
pools:
  - id: chin-gpu
    node: CHIN
    capacity: {cpu_cores: 512, memory_gib: 4096, gpus: {H100: 64, A100: 16}}
    labels: {tier: ai}
    price: {cpu_core_hour: 0.02, gpu_hour: {H100: 2.5}}
    speed: 1.5
    queue_wait_s: 3
    processing_latency_ms: 0.5
  - id: nyc-cpu
    node: NYCM
    capacity: {cpu_cores: 0.5}
"""

@Suite("Topology model")
struct TopologyModelTests {
    @Test func theIssueExampleLoadsWithEveryValue() throws {
        let loaded = try Topology.load(yaml: example, file: "example.yaml")
        #expect(loaded.warnings.isEmpty)
        let topology = loaded.topology
        #expect(topology.name == "abilene")
        #expect(topology.nodes.map(\.id) == ["NYCM", "CHIN", "WASH"])
        #expect(topology.nodes[0].name == "New York")
        #expect(topology.nodes[0].labels == ["country": "US"])
        #expect(topology.regions == ["us-central", "us-east"])

        let derived = topology.links[0]
        let distance = GeoLocation(latitude: 40.71, longitude: -74.01).distanceKm(to: GeoLocation(latitude: 41.85, longitude: -87.65))
        #expect(abs(distance - 1_146) < 5, "New York to Chicago is about 1,146 km")
        #expect(derived.latencyDerived)
        #expect(abs(derived.latencyMs - distance / 200) < 1e-9)
        #expect(derived.capacityGbps == 10 && derived.cost == 1 && derived.isUp && derived.bidirectional)

        let parallel = topology.links[1]
        #expect(parallel.id == "NYCM-CHIN#2")
        #expect(derived.id == "NYCM-CHIN")
        #expect(parallel.latencyMs == 9.5 && parallel.capacityGbps == 40 && parallel.cost == 3 && !parallel.isUp)

        let oneWay = topology.links[2]
        #expect(!oneWay.bidirectional && oneWay.from == 1 && oneWay.to == 2 && oneWay.transferPricePerGB == 0.01)

        let gpu = topology.pools[0]
        #expect(gpu.capacity.cpuCores == 512)
        #expect(gpu.capacity.memoryBytes == 4096 << 30)
        #expect(gpu.capacity.gpus == ["H100": 64, "A100": 16])
        #expect(gpu.price.gpuHour == ["H100": 2.5])
        #expect(gpu.speed == 1.5 && gpu.queueWaitS == 3 && gpu.processingLatencyMs == 0.5)
        #expect(topology.effectiveLabels(of: gpu) == ["tier": "ai", "region": "us-central"])
        #expect(topology.effectiveLabels(of: topology.pools[1]) == ["country": "US", "region": "us-east"])
        #expect(topology.pools[1].capacity.cpuCores == 0.5)
        #expect(topology.totalCapacity.cpuCores == 512.5)
        #expect(gpu.origin == SourceLocation(file: "example.yaml", line: 29, column: 5))
    }

    @Test func writingAndReadingBackGivesTheSameNetwork() throws {
        let original = try Topology.load(yaml: example, file: "a.yaml").topology
        let text = original.yaml(header: ["a comment"], notes: ["nyc-cpu": "a note"])
        #expect(text.hasPrefix("# a comment\n"))
        #expect(text.contains("  # a note\n  - id: nyc-cpu"))
        let reread = try Topology.load(yaml: text, file: "b.yaml").topology
        #expect(strip(reread) == strip(original))
    }

    @Test func nearestNodeAndComponents() throws {
        let topology = try Topology.load(yaml: example, file: "a.yaml").topology
        let nearest = try #require(topology.nearestNode(to: GeoLocation(latitude: 41.5, longitude: -87)))
        #expect(topology.nodes[nearest.node].id == "CHIN")
        #expect(topology.connectedComponents() == [[0, 1, 2]])
    }

    @Test func aNodeIdInAnotherCaseOrWithATypoNamesTheNodeMeant() throws {
        let topology = try Topology.load(yaml: example, file: "a.yaml").topology
        #expect(topology.nodeID(like: "chin") == "CHIN")
        #expect(topology.nodeID(like: "NYMC") == "NYCM")
        #expect(topology.nodeID(like: "Atlantis") == nil)
        #expect(topology.nodeID(like: String(repeating: "CHIN", count: 100_000)) == nil)
    }

    @Test func theLatencyDiameterUsesUpLinksOnly() throws {
        let topology = try Topology.load(yaml: example, file: "a.yaml").topology
        let graph = NetworkGraph(topology)
        let diameter = try #require(graph.latencyDiameter(latency: topology.links.map { $0.isUp ? $0.latencyMs : .infinity }))
        // WASH reaches CHIN only through NYCM (the CHIN->WASH link is one-way).
        #expect(topology.nodes[diameter.from].id == "WASH")
        #expect(topology.nodes[diameter.to].id == "CHIN")
        #expect(abs(diameter.latencyMs - (2 + topology.links[0].latencyMs)) < 1e-9)
    }
}

/// A topology without the file positions, which differ between two files of the same network.
func strip(_ topology: Topology) -> Topology {
    var copy = topology
    for index in copy.nodes.indices { copy.nodes[index].origin = nil }
    for index in copy.links.indices { copy.links[index].origin = nil }
    for index in copy.pools.indices { copy.pools[index].origin = nil }
    return copy
}
